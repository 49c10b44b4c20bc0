"""Client defaults (each is a keyword argument of `Client`), and the close codes it acts on.

The timers follow the browser client (static/realtime/client.js) and the server's limits in
docs/protocol.md, so both clients behave the same towards one server.
"""

# The protocol's client ping interval (docs/protocol.md, REALTIME_CLIENT_PING_INTERVAL):
# under common 30-60 s proxy idle timeouts and well inside the server's 70 s idle limit
# (close 4408).  Pass ping_interval= for a server configured otherwise.
PING_INTERVAL = 25.0
# A ping unanswered this long means a half-open socket (sleep, NAT timeout): drop it.
PING_TIMEOUT = 10.0
# Default wait for a reply; includes time spent waiting for a socket while disconnected.
REQUEST_TIMEOUT = 10.0
# The WebSocket opening handshake (TCP + TLS + HTTP upgrade) and the ticket POST.
OPEN_TIMEOUT = 10.0
# How long `connect()` / `async with Client(...)` waits for the first connection before
# giving up: long enough for a few backoff rounds while a server restarts.
FIRST_CONNECT_TIMEOUT = 30.0
# The closing handshake: a socket being dropped is usually dead, so do not wait long.
CLOSE_TIMEOUT = 2.0
# Backoff: base * 2**attempt capped at max, then jitter in [50 %, 100 %] of it so a
# restarted server is not met by every client at the same instant.
BACKOFF_BASE = 0.5
BACKOFF_MAX = 30.0
# Close 4429 (flooding): the server wants this client quiet for a while.
FLOOD_BACKOFF = 60.0
# A connection that stayed up this long resets the backoff (and the 4401 streak).
STABLE_AFTER = 10.0
# Renew the socket's identity (auth.refresh) when this share of its announced lifetime
# is left, but at least REFRESH_MARGIN seconds early: the ticket POST and the refresh need
# a moment (the same as the browser client).
REFRESH_SHARE = 0.2
REFRESH_MARGIN = 5.0
# A failed refresh (network, server busy) is tried again after this long; should it never
# succeed, the server closes 4401 at expiry and the reconnect fetches a new ticket anyway.
REFRESH_RETRY = 15.0
# A transient refusal of a subscribe (rate_limited, unavailable, internal) without a
# retry_after is retried on the same socket after this many seconds.
SUBSCRIBE_RETRY = 1.0
# Largest frame accepted from the server.  Clients may send at most 64 KiB, but a server
# frame (a replayed event, a feed item) may be larger; this only guards against runaways.
MAX_FRAME_BYTES = 16 * 2**20

CLOSE_NORMAL = 1000
CLOSE_UNAUTHORIZED = 4401
CLOSE_FLOOD = 4429
CLOSE_SLOW = 4503
# Sent by this client when it drops a socket it no longer trusts (ping or subscribe timeout).
CLOSE_CLIENT_GIVES_UP = 4000
