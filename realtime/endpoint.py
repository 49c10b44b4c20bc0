"""The WebSocket side of the ASGI application: path, origin policy, the session user, then
the consumer — in one layer.

One layer on purpose: every ASGI middleware's coroutine frame, and the scope copy it makes,
lives as long as the socket (channels' CookieMiddleware, session and auth middleware and
URLRouter made four copies and five frames per connection, ~4 KB of each idle socket's
~30).  Nor does it wrap `send` (channels' session wrapper checked the session on every
outgoing frame, most of a broadcast's cost).

Origin policy (cross-site WebSocket hijacking): a foreign Origin is refused at the handshake;
a missing Origin (scripts, apps) is accepted only with a ticket, never on a session cookie
alone.  Browsers always send Origin, so that closes the hijacking path without locking out
non-browser clients (channels' stock validator refuses them all).
"""

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.cookie import parse_cookie

from realtime.auth import origin_allowed, origin_from_scope, ticket_from_scope
from realtime.consumer import RealtimeConsumer
from realtime.sessions import session_user

PATHS = ("/ws/", "/ws")
ANONYMOUS = AnonymousUser()  # stateless: one for every anonymous socket


async def websocket_app(scope, receive, send):
    """ASGI app for scope type "websocket" (project/asgi.py routes it here)."""
    if scope.get("path") not in PATHS:
        return await _deny(receive, send)
    origin = origin_from_scope(scope)
    ticket = ticket_from_scope(scope)
    if origin is None:
        if not ticket:
            return await _deny(receive, send)
    elif not origin_allowed(origin):
        return await _deny(receive, send)
    user = ANONYMOUS
    if not ticket:  # a ticket decides who connects: the consumer redeems it
        session_key = _session_key(scope)
        if session_key:
            user = await session_user(session_key)
    scope = dict(scope, realtime_origin=origin, realtime_ticket=ticket, user=user)
    await RealtimeConsumer(scope, send).run(receive)


def _session_key(scope):
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            return parse_cookie(value.decode("latin-1")).get(settings.SESSION_COOKIE_NAME)
    return None


async def _deny(receive, send):
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close"})  # before accept: the server answers 403
