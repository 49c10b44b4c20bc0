"""Closing a user's sockets when they log out or are deactivated."""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_save

from realtime.auth import revoke_tickets
from realtime.control import close_user_connections


def _shut_out(user_id):
    """Voids the user's outstanding connect tickets, then closes their open sockets."""
    revoke_tickets(user_id)
    close_user_connections(user_id)


def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        _shut_out(user.pk)


def _user_saved(sender, instance, created, **kwargs):
    if not created and not instance.is_active:
        transaction.on_commit(lambda: _shut_out(instance.pk))


def connect():
    user_logged_out.connect(_logged_out, dispatch_uid="realtime.logout")
    post_save.connect(_user_saved, sender=get_user_model(), dispatch_uid="realtime.deactivate")
