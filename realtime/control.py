"""Server-to-server control: close a user's sockets, push to one connection, kick."""

from realtime.hub import ALL_GROUP, instance_group, user_group
from realtime.publish import send_control_sync

CLOSE_UNAUTHORIZED = 4401


def close_user_connections(user_id, code=CLOSE_UNAUTHORIZED):
    """Closes every open socket of a user, on every server process (logout, deactivation)."""
    send_control_sync(user_group(user_id), {"type": "rt.close_user", "user_id": user_id, "code": code})


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
