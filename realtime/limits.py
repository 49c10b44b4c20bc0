"""Limits that come before work: a token bucket per connection (flood close 4429), and per
client address a cap on open sockets and a handshake rate, counted across every server
process in Redis.

Per address (realtime.client_address), two sorted sets of lease expiries, member the
connection id -- sb:ip:{addr} (every socket) and sb:ipa:{addr} (anonymous ones) -- and a
fixed-window counter sb:iph:{addr}:<window> of handshakes.  One script admits a handshake
(prune expired leases, count, add) atomically, through the auto-pipelining batcher so a
connect storm's checks share round trips with its other Redis commands.  Each process
renews its sockets' leases every heartbeat (renew_leases); a killed process's sockets
simply expire, so the count heals within REALTIME_PRESENCE_TTL with no cleanup.  The
braces are Redis Cluster hash tags: one address's keys live in one slot.
"""

import asyncio
import logging
import time

from django.conf import settings

from realtime.redis import batched, run_script, script_sha

logger = logging.getLogger("realtime.limits")


class TokenBucket:
    """`rate` tokens per second up to `burst`; take() says whether a frame may pass."""

    __slots__ = ("rate", "burst", "tokens", "stamp", "limited_since", "refused")

    def __init__(self, rate=None, burst=None):
        self.rate = rate if rate is not None else settings.REALTIME_RATE_PER_SECOND
        self.burst = burst if burst is not None else settings.REALTIME_RATE_BURST
        self.tokens = float(self.burst)
        self.stamp = time.monotonic()
        # When the client first hit the limit in the current flood (None when calm), and
        # how many frames it has had refused since.
        self.limited_since = None
        self.refused = 0

    def take(self):
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            if self.tokens >= self.burst / 2:
                self.limited_since = None  # recovered: the flood is over
                self.refused = 0
            return True
        if self.limited_since is None:
            self.limited_since = now
        self.refused += 1
        return False

    def retry_after(self):
        """Seconds until one token is back."""
        return round(max(0.0, (1.0 - self.tokens) / self.rate), 3)

    def flooding_for(self):
        """Seconds the client has kept flooding since its first rate_limited error."""
        return 0.0 if self.limited_since is None else time.monotonic() - self.limited_since


# --- per address ------------------------------------------------------------------------
# KEYS: all, anonymous, handshakes.  ARGV: conn id, now, lease expiry, cap, anonymous cap
# ('' when signed in), handshakes allowed, window seconds, key ttl.  Returns 0 (admitted),
# 1 (handshake rate), 2 (too many sockets), 3 (too many anonymous sockets).
ADMIT = """
local n = redis.call('INCR', KEYS[3])
if n == 1 then redis.call('EXPIRE', KEYS[3], ARGV[7]) end
if n > tonumber(ARGV[6]) then return 1 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 2 end
if ARGV[5] ~= '' then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[2])
  if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5]) then return 3 end
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
  redis.call('EXPIRE', KEYS[2], ARGV[8])
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[8])
return 0
"""
ADMIT_SHA = script_sha(ADMIT)

# KEYS: anonymous.  ARGV: conn id, now, lease expiry, anonymous cap, key ttl.  A socket
# admitted as signed in (it carried a session cookie) whose session turned out anonymous:
# 0 when it fits the anonymous cap (and is counted there), else 3.
DEMOTE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 3 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 0
"""
DEMOTE_SHA = script_sha(DEMOTE)

REFUSALS = {1: "handshake rate", 2: "sockets per address", 3: "anonymous sockets per address"}


def _keys(address):
    return f"sb:ip:{{{address}}}", f"sb:ipa:{{{address}}}"


def _lease():
    """(now, expiry, key ttl) of a lease taken now: it lives two heartbeats."""
    now = time.time()
    ttl = settings.REALTIME_PRESENCE_TTL
    return now, now + ttl, int(ttl) + 1


class Lease:
    """One socket's place in its address's count; release() when the socket ends."""

    __slots__ = ("address", "conn_id", "anonymous")

    def __init__(self, address, conn_id, anonymous):
        self.address, self.conn_id, self.anonymous = address, conn_id, anonymous

    async def demote(self):
        """Counts this socket as anonymous (its cookie named no live session); False when
        that is one anonymous socket too many for its address."""
        now, expiry, ttl = _lease()
        refused = await run_script(DEMOTE, DEMOTE_SHA, [_keys(self.address)[1]],
                                   [self.conn_id, now, expiry,
                                    settings.REALTIME_MAX_ANONYMOUS_CONNECTIONS_PER_IP, ttl])
        if refused:
            return False
        self.anonymous = True
        return True

    async def release(self):
        """Frees the place (the socket closed).  Never raises: a lease left behind by a
        Redis failure expires on its own."""
        everyone, anonymous = _keys(self.address)
        try:
            await batched().execute("ZREM", everyone, self.conn_id)
            if self.anonymous:
                await batched().execute("ZREM", anonymous, self.conn_id)
        except Exception as exc:
            logger.warning("could not release the address lease of %s: %s", self.conn_id, exc)


async def admit(address, conn_id, anonymous):
    """Called at every handshake, before any other work: a Lease, or the reason (a string)
    the address may not open another socket now."""
    now, expiry, ttl = _lease()
    everyone, anon = _keys(address)
    window = settings.REALTIME_HANDSHAKE_WINDOW_SECONDS
    handshakes = f"sb:iph:{{{address}}}:{int(now // window)}"
    refused = await run_script(ADMIT, ADMIT_SHA, [everyone, anon, handshakes], [
        conn_id, now, expiry, settings.REALTIME_MAX_CONNECTIONS_PER_IP,
        settings.REALTIME_MAX_ANONYMOUS_CONNECTIONS_PER_IP if anonymous else "",
        settings.REALTIME_HANDSHAKES_PER_IP, window + 1, ttl])
    if refused:
        return REFUSALS[int(refused)]
    return Lease(address, conn_id, anonymous)


async def renew_leases(leases):
    """Called every heartbeat with the process's open sockets' leases: one ZADD per
    address and set, all in one pipeline."""
    now, expiry, ttl = _lease()
    grouped = {}
    for lease in leases:
        everyone, anonymous = _keys(lease.address)
        grouped.setdefault(everyone, []).append(lease.conn_id)
        if lease.anonymous:
            grouped.setdefault(anonymous, []).append(lease.conn_id)
    replies = []
    for key, ids in grouped.items():
        args = [value for conn_id in ids for value in (expiry, conn_id)]
        replies.append(batched().execute("ZADD", key, *args))
        replies.append(batched().execute("EXPIRE", key, ttl))
    await asyncio.gather(*replies)
