"""The client's address, for every throttle, the socket limits, the Connection table and logs.

`X-Forwarded-For` is written by whoever sent the request, so only the entries that trusted
proxies appended mean anything.  TRUSTED_PROXY_COUNT says how many hops in front of the
server are ours (0: none, the socket peer is the client; 1: nginx, which sets the header to
`$remote_addr`, see deploy/nginx.conf).  The address is the entry the nearest trusted proxy
wrote -- the N-th from the right -- and anything further left is the client's own claim.

Works on a Django/DRF request (META) and on an ASGI scope (HTTP or WebSocket) alike.
"""

import ipaddress

from django.conf import settings

LOOPBACK = ("127.0.0.1", "::1")


def _peer_and_forwarded(request_or_scope):
    """(socket peer address, X-Forwarded-For value or None) of a request or an ASGI scope."""
    if isinstance(request_or_scope, dict):  # an ASGI scope
        client = request_or_scope.get("client") or ("", 0)
        values = [value.decode("latin-1") for name, value in request_or_scope.get("headers", ())
                  if name.lower() == b"x-forwarded-for"]
        # Several header lines are one list (RFC 9110 5.3), in order.
        return str(client[0] or ""), (",".join(values) if values else None)
    meta = request_or_scope.META
    return meta.get("REMOTE_ADDR") or "", meta.get("HTTP_X_FORWARDED_FOR")


def client_address(request_or_scope):
    """The client's address: the socket peer when TRUSTED_PROXY_COUNT is 0 (the header is
    ignored), else the TRUSTED_PROXY_COUNT-th X-Forwarded-For entry from the right.  Falls
    back to the peer when the header has fewer entries or that entry is not an IP address
    (a proxy we trust writes addresses; anything else is a misconfiguration or a forgery).
    Never raises; the result is at most an IP address string or ""."""
    peer, forwarded = _peer_and_forwarded(request_or_scope)
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0 or not forwarded:
        return peer
    entries = [entry.strip() for entry in forwarded.split(",")]
    if len(entries) < count:
        return peer
    candidate = entries[-count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return peer


def is_direct_loopback(request):
    """Whether the request comes from this machine and not through a proxy: the peer is
    loopback and there is no X-Forwarded-For at all (nginx on this machine connects from
    loopback too, but always adds the header).  The rule for /readyz details and /metrics."""
    meta = request.META
    return meta.get("REMOTE_ADDR") in LOOPBACK and "HTTP_X_FORWARDED_FOR" not in meta
