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
non-browser clients (channels' stock validator refuses them all): a ticket is only issued
over an authenticated REST call (CSRF-checked for session callers), so a foreign page cannot
obtain one, and a client that sends no Origin is not a browser page.

"Foreign" is decided exactly as Django's CSRF check decides it for a POST
(CsrfViewMiddleware._origin_verified, reused as is): scheme, host and port must equal the
site's own origin as this request sees it (an ALLOWED_HOSTS Host header, at https when
SECURE_PROXY_SSL_HEADER says so or the socket is wss), or be one of CSRF_TRUSTED_ORIGINS.
`http://localhost:6666` is not the origin of a site served at `http://localhost:8000`.

Per-address limits (realtime.limits) come right after the origin check, before the session
is resolved or the ticket redeemed (only the session snapshot's GET shares their round
trip): over the handshake rate or the socket cap, the socket is accepted and closed at
once with 4429 (a browser sees a close code, never an HTTP status), no Connection row
written.  The socket's lease is released when it ends, however it ends.
"""

import logging

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.http.cookie import parse_cookie
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.datastructures import MultiValueDict

from realtime import limits
from realtime.auth import origin_from_scope, ticket_from_scope
from realtime.client_address import client_address
from realtime.close_codes import CloseCode, close_message
from realtime.consumer import RealtimeConsumer
from realtime.sessions import read_snapshot, session_user

PATHS = ("/ws/", "/ws")
ANONYMOUS = AnonymousUser()  # stateless: one for every anonymous socket

logger = logging.getLogger("realtime.endpoint")


async def websocket_app(scope, receive, send):
    """ASGI app for scope type "websocket" (project/asgi.py routes it here)."""
    if scope.get("path") not in PATHS:
        return await _deny(receive, send)
    origin = origin_from_scope(scope)
    ticket = ticket_from_scope(scope)
    if origin is None:
        if not ticket:
            return await _deny(receive, send)
    elif not origin_verified(scope, origin):
        return await _deny(receive, send)
    session_key = None if ticket else _session_key(scope)
    # The snapshot's GET goes with the address check's script (one round trip, one batch);
    # nothing costlier (a resolution through the database) comes before admission.
    snapshot = read_snapshot(session_key) if session_key else None
    address = client_address(scope)
    consumer = RealtimeConsumer(scope, send)
    try:
        # Without a ticket or a session cookie it can only be anonymous: the tighter cap.
        lease = await limits.admit(address, consumer.id, anonymous=not ticket and not session_key)
    except Exception:
        logger.exception("address limits unavailable")  # Redis down: refuse as connect does
        return await _refuse(receive, send, CloseCode.SERVER_ERROR)
    try:
        if isinstance(lease, str):
            logger.warning("refused a socket from %s: %s", address, lease)
            return await _refuse(receive, send, CloseCode.FLOOD)
        user = ANONYMOUS
        if session_key:  # a ticket decides who connects: the consumer redeems it
            user = await session_user(session_key, snapshot)
            if not getattr(user, "is_authenticated", False) and not await lease.demote():
                logger.warning("refused a socket from %s: %s", address, limits.REFUSALS[3])
                return await _refuse(receive, send, CloseCode.FLOOD)
        consumer.scope = dict(scope, realtime_origin=origin, realtime_ticket=ticket, user=user,
                              realtime_lease=lease)
        await consumer.run(receive)
    finally:
        if not isinstance(lease, str):
            await lease.release()


class HandshakeRequest(HttpRequest):
    """The handshake's headers as the HttpRequest Django's origin check reads: HTTP_* META
    from the headers, SERVER_NAME/PORT from the ASGI server, and the socket's own scheme
    (wss -> https) unless SECURE_PROXY_SSL_HEADER decides it (HttpRequest.scheme)."""

    def __init__(self, scope, origin):
        # HttpRequest.__init__'s attributes, set as WSGIRequest sets them (it does not call
        # it either), without its two QueryDicts: building them was half of the check's
        # cost, for a query and a body the origin check never reads.
        self.GET, self.POST, self.FILES = MultiValueDict(), MultiValueDict(), MultiValueDict()
        self.COOKIES, self.META = {}, {}
        self.method = self.resolver_match = self.content_type = self.content_params = None
        for name, value in scope.get("headers", ()):
            key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
            value = value.decode("latin-1")
            self.META[key] = f"{self.META[key]},{value}" if key in self.META else value
        self.META["HTTP_ORIGIN"] = origin
        server = scope.get("server") or ("", "")
        self.META["SERVER_NAME"], self.META["SERVER_PORT"] = server[0] or "", str(server[1] or "")
        self.path = self.path_info = scope.get("path", "")
        self._socket_scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"

    def _get_scheme(self):
        return self._socket_scheme


def _no_response(request):  # CsrfViewMiddleware requires a get_response; never called
    raise AssertionError("not a middleware chain")


def origin_verified(scope, origin):
    """Called at every handshake that carries an Origin: whether it is this site's own
    origin (or a CSRF-trusted one), by Django's CSRF origin check.  A new middleware each
    time: its trusted-origin sets are cached per instance, and settings may change."""
    return CsrfViewMiddleware(_no_response)._origin_verified(HandshakeRequest(scope, origin))


def _session_key(scope):
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            return parse_cookie(value.decode("latin-1")).get(settings.SESSION_COOKIE_NAME)
    return None


async def _refuse(receive, send, code):
    """Accepts and closes with `code` (the client sees why and backs off), writing nothing."""
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.accept"})
        await send(close_message(code))


async def _deny(receive, send):
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close"})  # before accept: the server answers 403
