"""The built-in actions (ping, subscribe, unsubscribe, presence) and the `user:<id>` topic."""

import time

from django.conf import settings

from realtime import errors, presence, session_auth
from realtime.auth import USER_SCHEMA
from realtime.frames import Reply
from realtime.registry import register_action, register_event, register_topic_kind

MAX_SINCE = 2**62


async def ping(request):
    reply = {"pong": int(time.time() * 1000)}
    left = session_auth.expires_in(request.connection)
    if left is not None:
        reply["auth_expires_in"] = left  # when to send auth.refresh, for any client
    return reply


async def subscribe(request):
    conn = request.connection
    since = request.data.get("since")
    if since is not None and (isinstance(since, bool) or not isinstance(since, int)
                              or not 0 <= since <= MAX_SINCE):
        raise errors.Invalid("since must be a non-negative integer seq.", field="data.since")
    if request.topic not in conn.subs and len(conn.subs) >= settings.REALTIME_MAX_SUBSCRIPTIONS:
        raise errors.TooManySubscriptions(
            f"At most {settings.REALTIME_MAX_SUBSCRIPTIONS} subscriptions per connection.")
    reply = await conn.hub.subscribe(conn, request.topic, since)
    # Once the reply is written: the live events buffered meanwhile follow it.
    return Reply(reply, then=lambda: conn.hub.finish_subscribe(conn, request.topic))


async def unsubscribe(request):
    conn = request.connection
    if not await conn.hub.unsubscribe(conn, request.topic):
        raise errors.NotSubscribed(f"Not subscribed to {request.topic}.", field="topic")
    conn.hub.authorizer.forget(conn, request.topic)
    return {}


async def presence_list(request):
    """One page of the users present on the topic, by id: `data.after` (the `next` of the
    previous page; from the start when absent) and `data.limit` (at most, and by default,
    REALTIME_PRESENCE_LIST_MAX).  Replies {presence, count, next}; `next` is null on the
    last page.  A user present throughout a paging is on exactly one page."""
    list_max = settings.REALTIME_PRESENCE_LIST_MAX
    after = _int_field(request.data, "after", 0, MAX_SINCE, 0)
    limit = _int_field(request.data, "limit", 1, list_max, list_max)
    count, users, more = await presence.page(request.topic, after, limit)
    return {"presence": users, "count": count, "next": users[-1]["id"] if more and users else None}


def _int_field(data, name, low, high, default):
    value = data.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise errors.Invalid(f"{name} must be an integer from {low} to {high}.", field=f"data.{name}")
    return value


def authorize_user_topic(user, key, access):
    """user:<id> is private to that user; only the server publishes to it."""
    return access == "read" and str(user.pk) == key


def register():
    register_topic_kind("user", authorize=authorize_user_topic)
    count = {"type": "integer", "minimum": 0,
             "description": "Users present after the change (absent when Redis could not say)."}
    users = {"type": "object", "required": ["users"], "additionalProperties": False,
             "properties": {"users": {"type": "array", "minItems": 1, "items": USER_SCHEMA},
                            "count": count}}
    diff = {"type": "object", "required": ["count", "joined", "left"], "additionalProperties": False,
            "properties": {"count": count, "joined": {"type": "array", "items": USER_SCHEMA},
                           "left": {"type": "array", "items": USER_SCHEMA}}}
    register_event("presence.join", users,
                   doc="These users' first connections joined the topic (ephemeral; one event "
                       "per REALTIME_PRESENCE_BATCH_SECONDS at most).")
    register_event("presence.leave", users,
                   doc="These users' last connections left the topic, or their leases expired "
                       "(ephemeral; one event per REALTIME_PRESENCE_BATCH_SECONDS at most).")
    register_event("presence.diff", diff,
                   doc="A crowd's presence changes (more than REALTIME_PRESENCE_LIST_MAX users "
                       "present), in place of presence.join/leave: the count and who joined and "
                       "left (ephemeral; one event per REALTIME_PRESENCE_BATCH_SECONDS at most).")
    register_event("subscription.revoked", {"type": "object"},
                   doc="The server ended this subscription (e.g. removed from a private room).")
    register_event("auth.expired", {"type": "object"},
                   doc="This connection's identity ran out (REALTIME_AUTH_MAX_AGE without "
                       "auth.refresh); close 4401 follows: reconnect with a fresh ticket.")
    register_event("notification", {"type": "object"},
                   doc="A direct push to a user topic or connection (POST /api/publish/).",
                   api_publishable=True)
    register_action("ping", ping, allow_anonymous=True, builtin=True,
                    doc="Keepalive; replies with the server time in ms.")
    register_action("subscribe", subscribe, topic_kinds=("*",), access="read",
                    allow_anonymous=True, builtin=True, fresh_authorization=True,
                    doc="Joins a topic, replaying events after `since` when given.")
    register_action("unsubscribe", unsubscribe, topic_kinds=("*",), access="read",
                    allow_anonymous=True, builtin=True, doc="Leaves a topic.")
    register_action("auth.refresh", session_auth.auth_refresh, builtin=True,
                    doc="Renews the connection's identity with a fresh ticket of the same "
                        "user (data.ticket); keeps subscriptions and seqs.  Replies "
                        "auth_expires_in.")
    register_action("presence", presence_list, topic_kinds=("*",), access="read",
                    allow_anonymous=True, builtin=True,
                    doc="One page of the users present on a topic, by id: data.after (the "
                        "previous page's `next`), data.limit (at most REALTIME_PRESENCE_LIST_MAX). "
                        "Replies {presence, count, next}; next is null on the last page.")
