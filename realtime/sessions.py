"""The session-cookie user of a socket, with a snapshot of it kept in Redis.

Browsers authenticate their socket with the session cookie. Resolving it the way Django's
AuthenticationMiddleware does costs a worker-thread hop and two queries (session, user) per
connect, which makes a browser reconnect storm far slower than the ticket path. After the
first resolution a snapshot of the user (as a ticket carries: id, name, flags) is kept under
a digest of the session key, and later connects read it with one batched Redis GET.

A snapshot never outlives what it stands for:
  * it expires with the session's own expiry date (and at REALTIME_SESSION_SNAPSHOT_SECONDS);
  * the session's deletion (logout, flush, cycle_key at log-in, admin) drops it and leaves
    a tombstone, so a resolution already in flight cannot write it back;
  * any save or deletion of the user (password, name, flags, deactivation) drops all the
    user's snapshots and bumps the user's generation, which a resolution in flight checks
    before writing (one Lua script: check and write are atomic).
Only database-backed session engines (db, cached_db) are snapshotted: they alone can say
when a session is deleted.  Others resolve through Django every time.

Connects of one session that miss the snapshot together (a browser's tabs reconnecting
after a restart, before the first resolution has written it) share one resolution in
this process instead of each running the two queries in a worker thread of its own.
"""

import asyncio
import hashlib
import logging
from importlib import import_module
from types import SimpleNamespace

import orjson
from django.conf import settings
from django.utils import timezone

from realtime import store
from realtime.auth import user_from_ticket, user_snapshot
from realtime.redis import batched, sync_client

logger = logging.getLogger("realtime.sessions")

# Every key below carries the hash tag {sess}: on a Redis Cluster they live in one slot,
# because the scripts tie a session's keys (read by digest alone, at connect) to its
# user's keys (FORGET_USER deletes snapshots it finds in a set).  One shard serves them:
# one GET per browser connect, far below a node's rate (docs/scaling.md).
SNAPSHOT_PREFIX = "sb:{sess}:snap:"  # digest of a session key -> user snapshot (JSON)
TOMBSTONE_PREFIX = "sb:{sess}:gone:"  # digest -> 1 while a deleted session's writes may race
USER_SNAPSHOTS_PREFIX = "sb:{sess}:user:"  # user id -> set of digests with a snapshot
USER_GENERATION_PREFIX = "sb:{sess}:gen:"  # user id -> bumped whenever their snapshots drop

# KEYS: snapshot, tombstone, user generation, user's set.  ARGV: value, ttl, generation as
# read before the user was loaded, digest.  Writes only if nothing dropped it meanwhile.
REMEMBER = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if (redis.call('GET', KEYS[3]) or '0') ~= ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SADD', KEYS[4], ARGV[4])
if redis.call('TTL', KEYS[4]) < tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[4], ARGV[2]) end
return 1
"""

# KEYS: user generation, user's set.  ARGV: snapshot key prefix, generation ttl.  Atomic,
# so a REMEMBER either ran before (its snapshot is dropped here) or sees the new generation.
FORGET_USER = """
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
for _, key in ipairs(redis.call('SMEMBERS', KEYS[2])) do redis.call('DEL', ARGV[1] .. key) end
redis.call('DEL', KEYS[2])
return 1
"""


def digest(session_key):
    """The Redis name of a session: never the key itself, which is a credential."""
    return hashlib.sha256(session_key.encode()).hexdigest()[:40]


# session key -> the resolution of it in flight in this process (memory only, like the
# cookie it comes from); an entry leaves as its resolution ends, so nothing is cached.
_resolving = {}


def read_snapshot(session_key):
    """Starts reading a session's snapshot (one GET through the batcher) and returns its
    future, for session_user(): the handshake starts it beside its address check, so both
    share a round trip.  A failure is kept in the future (never raised here, and never
    reported as unretrieved when the socket is refused before session_user reads it)."""
    try:
        future = batched().execute("GET", SNAPSHOT_PREFIX + digest(session_key))
    except Exception as exc:  # no client to ask: session_user resolves without it
        future = asyncio.get_running_loop().create_future()
        future.set_exception(exc)
    future.add_done_callback(_retrieved)
    return future


async def session_user(session_key, snapshot=None):
    """The user of a session cookie (AnonymousUser when it names none): the snapshot when
    there is one (`snapshot`: read_snapshot's future, when already started), else Django's
    resolution in a worker thread, which leaves a snapshot.
    A connect that finds a resolution of its session in flight waits for that one: it
    started no earlier than this connect's handshake minus one resolution, so it is as
    fresh as the snapshot this connect could have read (realtime.session_auth re-checks a
    socket whose user changed shortly before it joined)."""
    try:
        value = await (snapshot if snapshot is not None else read_snapshot(session_key))
    except Exception as exc:  # Redis unreachable: the database still knows
        logger.warning("session snapshot not read (%s)", exc)
        value = None
    if value:
        return user_from_ticket(orjson.loads(value))
    pending = _resolving.get(session_key)
    # Another event loop's resolution (a test's loop, closed before it ended) is not joined.
    if pending is None or pending.get_loop() is not asyncio.get_running_loop():
        pending = _resolving[session_key] = asyncio.ensure_future(
            store.run_sync(resolve, session_key))
        pending.add_done_callback(lambda done: _resolved(session_key, done))
    # shield: a socket that goes away while waiting does not cancel the others' resolution
    return await asyncio.shield(pending)


def _resolved(session_key, done):
    if _resolving.get(session_key) is done:
        del _resolving[session_key]
    _retrieved(done)  # every waiter may have gone (it is still raised to the rest)


def _retrieved(done):
    if not done.cancelled():
        done.exception()


def resolve(session_key):
    """What AuthenticationMiddleware would give a request with this cookie (the session
    hash checked); then the snapshot, if the session engine allows one.  Sync."""
    from django.contrib.auth import SESSION_KEY, get_user

    engine = import_module(settings.SESSION_ENGINE)
    session = engine.SessionStore(session_key)
    model = getattr(engine.SessionStore, "get_model_class", None)
    user_id = session.get(SESSION_KEY) if model else None
    generation = None
    if user_id is not None:
        try:  # read before the user is: a change meanwhile bumps it and voids the write
            generation = _generation(user_id)
        except Exception as exc:  # Redis unreachable: resolve without a snapshot
            logger.warning("session snapshot generation not read (%s)", exc)
    user = get_user(SimpleNamespace(session=session))
    if generation is not None and user.is_authenticated and user.is_active:
        try:
            _remember(model(), session_key, user, generation)
        except Exception as exc:  # only a cost: the next connect resolves again
            logger.warning("session snapshot not written (%s)", exc)
    return user


def _generation(user_id):
    return (sync_client().get(USER_GENERATION_PREFIX + str(user_id)) or b"0").decode()


def _remember(session_model, session_key, user, generation):
    expires = session_model.objects.filter(session_key=session_key).values_list(
        "expire_date", flat=True).first()
    if expires is None:
        return  # deleted meanwhile
    left = (expires - timezone.now()).total_seconds()
    ttl = int(min(left, settings.REALTIME_SESSION_SNAPSHOT_SECONDS))
    if ttl < 1:
        return
    key = digest(session_key)
    sync_client().eval(REMEMBER, 4, SNAPSHOT_PREFIX + key, TOMBSTONE_PREFIX + key,
                       USER_GENERATION_PREFIX + str(user.pk), USER_SNAPSHOTS_PREFIX + str(user.pk),
                       orjson.dumps(user_snapshot(user)), ttl, generation, key)


def forget_session(session_key):
    """Drops a deleted session's snapshot, and keeps any resolution in flight from writing
    it back."""
    key = digest(session_key)
    pipe = sync_client().pipeline(transaction=True)
    pipe.set(TOMBSTONE_PREFIX + key, 1, ex=settings.REALTIME_SESSION_TOMBSTONE_SECONDS)
    pipe.delete(SNAPSHOT_PREFIX + key)
    pipe.execute()


def forget_user(user_id):
    """Drops every snapshot of a user's sessions (the user changed or is gone): their next
    connects resolve through the database again."""
    sync_client().eval(FORGET_USER, 2, USER_GENERATION_PREFIX + str(user_id),
                       USER_SNAPSHOTS_PREFIX + str(user_id), SNAPSHOT_PREFIX,
                       2 * settings.REALTIME_SESSION_SNAPSHOT_SECONDS)
