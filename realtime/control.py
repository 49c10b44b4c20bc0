"""Server-to-server control: close a user's sockets, push to one connection, kick,
announce a change to a user's rights."""

import logging

from realtime.close_codes import CloseCode
from realtime.hub import ALL_GROUP, instance_group, user_group
from realtime.publish import send_control_sync

logger = logging.getLogger("realtime.control")


def close_user_connections(user_id, code=CloseCode.UNAUTHORIZED):
    """Closes every open socket of a user, on every server process (logout, deactivation)."""
    send_control_sync(user_group(user_id), {"type": "rt.close_user", "user_id": user_id,
                                            "code": int(code)})


def rights_changed(user_id, gone=()):
    """Announces (on commit) a change to a user's rights or credentials — password, active
    flag, staff/superuser, groups, permissions, a deleted token or session — to every
    server process: their sockets of that user re-check (realtime.session_auth); those on a
    credential whose digest is in `gone` close 4401 at once.  Sent to every process, not
    the user's group: one whose socket of that user is connecting right now must know too.
    Never raises: a change made while Redis is down (a migration, the shell) is bounded by
    REALTIME_AUTH_MAX_AGE instead."""
    try:
        send_control_sync(ALL_GROUP, {"type": "rt.rights_changed", "user_id": user_id,
                                      "gone": list(gone)})
    except Exception as exc:
        logger.warning("could not announce a change to user %s: %s", user_id, exc)


def kick(user_id, topic):
    """Unsubscribes a user's sockets from a topic (e.g. removed from a private room); they
    get a `subscription.revoked` event and must be authorized again to resubscribe."""
    send_control_sync(user_group(user_id), {"type": "rt.kick", "user_id": user_id, "topic": topic})


def reauthorize(topic):
    """Re-checks every subscriber of a topic, on every process, against its authorize hook
    and revokes those no longer allowed (`subscription.revoked`).  Call it after a change
    to who may read a topic (a room or feed made private, a member removed) — on commit."""
    send_control_sync(ALL_GROUP, {"type": "rt.reauthorize", "topic": topic})


def push_to_connection(connection, event, data):
    """Sends an ephemeral event to one connection (a realtime.Connection row)."""
    from realtime.publish import direct_frame

    send_control_sync(instance_group(connection.server_instance), {
        "type": "rt.push", "connection_id": str(connection.id),
        "frame": direct_frame(None, event, data)})
