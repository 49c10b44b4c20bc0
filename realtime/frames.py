"""The checks every incoming frame passes before its handler, in a fixed order.

size (close 1009) -> rate limit token (close 4429 for a flood) -> parse (a JSON object) ->
request_id -> action lookup and data -> rate limited? -> authenticate -> authorize the
topic -> the handler.  The checks that cost nothing come first, so a flood is refused
before it costs a database query or a Redis command.  Every frame within the size takes a
token, so a flood of garbage is closed like any other; but the answer names the first
check a frame fails, so a malformed one is told what is wrong with it.

A handler answers with its reply data, or with a Reply when something must run once the
reply is written (a subscribe delivers the live events it buffered only after its reply).
"""

import orjson
from django.conf import settings

from realtime import errors, session_auth
from realtime.close_codes import CloseCode
from realtime.registry import ActionRequest, actions, parse_topic

# The longest string request_id accepted: a client's correlation id, not a payload.
MAX_REQUEST_ID_LENGTH = 64
# The largest integer request_id: what a JavaScript client can hold exactly.
MAX_REQUEST_ID_INT = 2**53


class Reply:
    """A handler's answer whose `then()` must run after the reply frame is queued."""

    __slots__ = ("data", "then")

    def __init__(self, data, then):
        self.data = data
        self.then = then


class Frame:
    """A frame as far as the checks have read it: read() fills it in order, so when a check
    fails the error answer carries the request_id if that check came after it."""

    __slots__ = ("body", "request_id", "name", "action", "data")

    def __init__(self):
        self.body = self.request_id = self.name = self.action = self.data = None


def admit(text, bucket):
    """The free checks, called first for every frame: (the close code, or None; whether the
    frame took a rate-limit token)."""
    limit = settings.REALTIME_MAX_FRAME_BYTES
    # len(text) is characters: only a text that long may be too many bytes, encode then.
    if text is not None and len(text) > limit // 4 and len(text.encode()) > limit:
        return CloseCode.TOO_BIG, False
    allowed = bucket.take()
    if not allowed and (bucket.flooding_for() > settings.REALTIME_FLOOD_CLOSE_AFTER
                        or bucket.refused > settings.REALTIME_FLOOD_CLOSE_FRAMES):
        return CloseCode.FLOOD, False
    return None, allowed


def read(frame, text, allowed, bucket):
    """Parse, request_id, action and data, then the rate limit, into `frame`; raises the
    ProtocolError of the first check that fails."""
    if text is None:
        raise errors.BadRequest("Binary frames are not accepted; send JSON text.")
    frame.body = _parse(text)
    frame.request_id = _request_id(frame.body)
    frame.name, frame.action, frame.data = _action(frame.body)
    if not allowed:
        raise errors.RateLimited(retry_after=bucket.retry_after())


async def check(conn, frame):
    """Authenticate, then authorize the topic (after read()): the handler's ActionRequest."""
    action, name = frame.action, frame.name
    # authenticate (against the fresh user while a change to it is being applied)
    if conn.user_id is not None and conn.user_id in conn.hub.rechecking:
        await session_auth.wait_for_recheck(conn)
    if conn.user_id is None and not action.allow_anonymous:
        raise errors.Unauthenticated("Log in to do that.")
    # authorize the topic
    topic = kind = key = None
    if action.topic_kinds:
        topic = frame.body.get("topic")
        kind, key = parse_topic(topic)
        if action.topic_kinds != ("*",) and kind not in action.topic_kinds:
            raise errors.Invalid(f"{name} does not take {kind!r} topics.", field="topic")
        if action.requires_subscription and topic not in conn.subs:
            raise errors.NotSubscribed(f"Subscribe to {topic} first.", field="topic")
        await conn.hub.authorizer.check(conn, topic, kind, key, action.access,
                                        fresh=action.fresh_authorization)
    return ActionRequest(name, frame.request_id, topic, kind, key, frame.data, conn.user,
                         conn.id, conn.state, conn)


def _parse(text):
    try:
        body = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise errors.BadRequest("The frame is not valid JSON.") from None
    if not isinstance(body, dict):
        raise errors.BadRequest("The frame must be a JSON object.")
    return body


def _action(body):
    """(name, registered action, data) of a parsed frame, or the error saying what is wrong."""
    name = body.get("action")
    if not isinstance(name, str):
        raise errors.Invalid("action must be a string.", field="action")
    action = actions.get(name)
    if action is None:
        raise errors.UnknownAction(f"No action {name[:64]!r}.", field="action")
    data = body.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise errors.Invalid("data must be an object.", field="data")
    return name, action, data


def _request_id(body):
    request_id = body.get("request_id")
    if request_id is None:
        return None
    if isinstance(request_id, bool) or not isinstance(request_id, (str, int)):
        raise errors.Invalid("request_id must be a string or an integer.", field="request_id")
    if isinstance(request_id, str) and len(request_id) > MAX_REQUEST_ID_LENGTH:
        raise errors.Invalid("request_id is too long.", field="request_id")
    if isinstance(request_id, int) and abs(request_id) > MAX_REQUEST_ID_INT:
        raise errors.Invalid("request_id is too large.", field="request_id")
    return request_id
