"""Closing a user's sockets when they log out or are deactivated."""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_save

from realtime.control import close_user_connections


def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        close_user_connections(user.pk)


def _user_saved(sender, instance, created, **kwargs):
    if not created and not instance.is_active:
        transaction.on_commit(lambda: close_user_connections(instance.pk))


def connect():
    user_logged_out.connect(_logged_out, dispatch_uid="realtime.logout")
    post_save.connect(_user_saved, sender=get_user_model(), dispatch_uid="realtime.deactivate")
