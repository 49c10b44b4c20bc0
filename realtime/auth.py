"""Connection authentication: the origin policy and single-use connect tickets.

Origin policy (cross-site WebSocket hijacking): a foreign Origin is refused at the
handshake; a missing Origin (scripts, apps) is accepted only with a ticket, never on a
session cookie alone.  Browsers always send Origin, so that closes the hijacking path
without locking out non-browser clients (channels' stock validator refuses them all).
"""

import secrets
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.http.request import is_same_domain, validate_host

from realtime.redis import async_client, sync_client

TICKET_PREFIX = "sb:ticket:"


def issue_ticket(user):
    """A single-use connect ticket for `user`, valid REALTIME_TICKET_TTL seconds."""
    ticket = secrets.token_urlsafe(24)
    sync_client().set(TICKET_PREFIX + ticket, str(user.pk), ex=settings.REALTIME_TICKET_TTL)
    return ticket


async def redeem_ticket(ticket):
    """The user id a ticket was issued to, or None; a ticket works once (GETDEL)."""
    if not ticket or len(ticket) > 100:
        return None
    value = await async_client().getdel(TICKET_PREFIX + ticket)
    return int(value) if value else None


def ticket_from_scope(scope):
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    values = query.get("ticket")
    return values[0] if values else None


def origin_from_scope(scope):
    for name, value in scope.get("headers", []):
        if name == b"origin":
            return value.decode("latin-1")
    return None


def origin_allowed(origin):
    """Whether a browser Origin belongs to this site (ALLOWED_HOSTS or CSRF_TRUSTED_ORIGINS)."""
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    parsed = urlsplit(origin)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return False
    host = parsed.hostname
    return validate_host(host, settings.ALLOWED_HOSTS) or any(
        is_same_domain(host, pattern) for pattern in settings.ALLOWED_HOSTS
    )


class OriginPolicyMiddleware:
    """Refuses the handshake (HTTP 403) for a foreign Origin, or for a missing Origin
    without a ticket; marks the scope so the consumer never trusts the cookie then."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        origin = origin_from_scope(scope)
        ticket = ticket_from_scope(scope)
        if origin is None:
            if not ticket:
                return await _deny(receive, send)
        elif not origin_allowed(origin):
            return await _deny(receive, send)
        scope = dict(scope, realtime_origin=origin, realtime_ticket=ticket)
        return await self.app(scope, receive, send)


async def _deny(receive, send):
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close"})  # before accept: the server answers 403


class SessionAuthMiddleware:
    """The session cookie's user in scope["user"], resolved once at the handshake.

    Replaces channels' SessionMiddleware + AuthMiddleware for the socket: those wrap
    every outgoing message to save a modified session (a lazy-object check per frame,
    most of the send path's cost in a broadcast), and the socket never modifies the
    session.  Expects channels' CookieMiddleware outside it.
    """

    def __init__(self, app):
        from channels.auth import AuthMiddleware

        self.auth = AuthMiddleware(app)

    async def __call__(self, scope, receive, send):
        from channels.sessions import InstanceSessionWrapper

        wrapper = InstanceSessionWrapper(scope, send)
        await wrapper.resolve_session()
        return await self.auth(wrapper.scope, receive, send)  # the raw send, unwrapped
