"""A user's rights follow them onto their open sockets: every change to a user, their
groups or permissions, or the deletion of one of their sessions is announced on commit
(control.rights_changed) and re-checked by each socket (realtime.session_auth).  Logout
and deactivation close the sockets outright; session snapshots (realtime.sessions) drop.

Save and m2m receivers match senders by model label, not class: a data migration saves
historical model classes, and its changes must take the same path as the admin's or the
shell's.  (Deletions are matched by class; see connect().)
(Code in this project changes users, groups, tokens and sessions through save(),
delete() and the m2m managers, never QuerySet.update(), which sends no signal.)
"""

from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete
from django.utils import timezone

from realtime.auth import revoke_tickets
from realtime.control import close_user_connections, rights_changed
from realtime.sessions import forget_session, forget_user

GROUP_LABEL = "auth.group"


def _shut_out(user_id):
    """Voids the user's outstanding connect tickets, then closes their open sockets."""
    revoke_tickets(user_id)
    close_user_connections(user_id)


def announce(user_ids, gone=()):
    """On commit, tells every server process these users' rights changed."""
    user_ids = sorted({int(uid) for uid in user_ids if uid is not None})
    if user_ids:
        transaction.on_commit(lambda: [rights_changed(uid, gone) for uid in user_ids])


def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        _shut_out(user.pk)


def _user_saved(sender, instance, created, update_fields=None, **kwargs):
    if created or sender._meta.label_lower != _user_label():
        return
    user_id = instance.pk
    if update_fields is None or set(update_fields) != {"last_login"}:  # each log-in saves that
        transaction.on_commit(lambda: forget_user(user_id))
        announce([user_id])
    if not instance.is_active:
        transaction.on_commit(lambda: _shut_out(user_id))


def _user_deleted(sender, instance, **kwargs):
    if sender._meta.label_lower != _user_label():
        return
    user_id = instance.pk

    def gone():
        forget_user(user_id)
        _shut_out(user_id)

    transaction.on_commit(gone)


def _group_deleted(sender, instance, **kwargs):
    """Its members lose its permissions (the m2m rows go without an m2m_changed)."""
    if sender._meta.label_lower == GROUP_LABEL:
        announce(_members(instance.pk))


def _m2m_changed(sender, instance, action, reverse, pk_set, **kwargs):
    """User.groups, User.user_permissions, Group.permissions: announce the users whose
    permissions changed.  A clear is looked at before it happens (pre_clear), when the
    rows it removes still say whom it concerns."""
    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    label = sender._meta.label_lower
    user_links = _user_m2m_labels()
    if label in user_links:
        if not reverse:
            users = [instance.pk]
        elif action == "pre_clear":
            users = _linked(sender, user_links[label], instance.pk, "user_id")
        else:
            users = pk_set or ()
    elif label == _group_permissions_label():
        if not reverse:
            users = _members(instance.pk)
        else:
            groups = _linked(sender, "permission", instance.pk, "group_id") \
                if action == "pre_clear" else (pk_set or ())
            users = [uid for group in groups for uid in _members(group)]
    else:
        return
    announce(users)


def _linked(through, column, pk, wanted):
    return list(through.objects.filter(**{f"{column}_id": pk}).values_list(wanted, flat=True))


def _members(group_id):
    return _linked(get_user_model().groups.through, "group", group_id, "user_id")


def _user_label():
    return get_user_model()._meta.label_lower


def _user_m2m_labels():
    """through model label -> its column naming the other side (group, permission)."""
    model = get_user_model()
    return {model.groups.through._meta.label_lower: "group",
            model.user_permissions.through._meta.label_lower: "permission"}


def _group_permissions_label():
    from django.contrib.auth.models import Group

    return Group.permissions.through._meta.label_lower


def _session_deleted(sender, instance, **kwargs):
    # An expired session's snapshot has expired with it (clearsessions deletes those), and
    # its sockets' identities are bounded by REALTIME_AUTH_MAX_AGE.
    if instance.expire_date > timezone.now():
        forget_session(instance.session_key)
        from realtime.session_auth import digest

        user_id = instance.get_decoded().get(SESSION_KEY)
        if user_id is not None:
            announce([user_id], gone=[digest(instance.session_key)])


def connect():
    user_logged_out.connect(_logged_out, dispatch_uid="realtime.logout")
    from django.contrib.auth.models import Group

    # No sender: historical models (data migrations) are other classes of the same label.
    post_save.connect(_user_saved, dispatch_uid="realtime.user-saved")
    m2m_changed.connect(_m2m_changed, dispatch_uid="realtime.rights-m2m")
    # Delete receivers name their sender: one for every model would disable Django's fast
    # (signal-free) bulk deletes everywhere, e.g. the outbox prune.
    post_delete.connect(_user_deleted, sender=get_user_model(), dispatch_uid="realtime.user-deleted")
    pre_delete.connect(_group_deleted, sender=Group, dispatch_uid="realtime.group-deleted")
    if "django.contrib.sessions" in settings.INSTALLED_APPS:
        from django.contrib.sessions.models import Session

        post_delete.connect(_session_deleted, sender=Session, dispatch_uid="realtime.session-deleted")
