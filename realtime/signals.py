"""Closing a user's sockets when they log out or are deactivated; dropping session
snapshots (realtime.sessions) when a session is deleted or its user changes."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from realtime.auth import revoke_tickets
from realtime.control import close_user_connections
from realtime.sessions import forget_session, forget_user


def _shut_out(user_id):
    """Voids the user's outstanding connect tickets, then closes their open sockets."""
    revoke_tickets(user_id)
    close_user_connections(user_id)


def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        _shut_out(user.pk)


def _user_saved(sender, instance, created, update_fields=None, **kwargs):
    if created:
        return
    user_id = instance.pk
    if update_fields is None or set(update_fields) != {"last_login"}:  # each log-in saves that
        transaction.on_commit(lambda: forget_user(user_id))
    if not instance.is_active:
        transaction.on_commit(lambda: _shut_out(user_id))


def _user_deleted(sender, instance, **kwargs):
    user_id = instance.pk

    def gone():
        forget_user(user_id)
        _shut_out(user_id)

    transaction.on_commit(gone)


def _session_deleted(sender, instance, **kwargs):
    # An expired session's snapshot has expired with it (clearsessions deletes those).
    if instance.expire_date > timezone.now():
        forget_session(instance.session_key)


def connect():
    user_logged_out.connect(_logged_out, dispatch_uid="realtime.logout")
    user_model = get_user_model()
    post_save.connect(_user_saved, sender=user_model, dispatch_uid="realtime.user-saved")
    post_delete.connect(_user_deleted, sender=user_model, dispatch_uid="realtime.user-deleted")
    if "django.contrib.sessions" in settings.INSTALLED_APPS:
        from django.contrib.sessions.models import Session

        post_delete.connect(_session_deleted, sender=Session, dispatch_uid="realtime.session-deleted")
