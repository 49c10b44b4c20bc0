"""Redis clients for presence, tickets and instance leases (not the channel layer's).

One sync client per process (threads share its pool) and one async client per event loop;
the per-connection commands go through that loop's CommandBatcher.  settings.REDIS_TOPOLOGY
says what they talk to: one server, a Sentinel-managed primary (redis-py's
SentinelConnectionPool asks the sentinels at each new connection, and drops a connection
whose server answers READONLY, so a failover is followed without a restart), or a Redis
Cluster (redis-py's RedisCluster: commands go to the slot's owner; a MOVED reply or a
connection error refreshes the slot map).
"""

import asyncio
import hashlib
import os
import weakref

import redis
import redis.asyncio as aredis
from django.conf import settings
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.asyncio.retry import Retry as AsyncRetry
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.asyncio.sentinel import SentinelConnectionPool as AsyncSentinelPool
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool

from project import env

# Seconds a Redis command may take before it fails (never None here: these are short
# commands, unlike the channel layer's blocking reads).
COMMAND_TIMEOUT = 5.0
# Connections per process and client.  A connect storm redeems hundreds of tickets at
# once: callers queue for a free connection (a blocking pool) instead of failing with
# "Too many connections" (redis-py's default pool refuses beyond its limit).
POOL_SIZE = 50
# Times a command (or a batcher's pipeline) is sent again on a fresh connection after a
# ConnectionError.  After a Redis restart every pooled connection is dead, and the pool's
# check-out test does not always notice (the server's FIN may not have been read yet): the
# first command on each fails with "Connection closed by server".  One retry on a new
# connection rides that out; a real outage still fails at once (connection refused twice).
CONNECTION_RETRIES = 1

_sync = {}
_async = weakref.WeakKeyDictionary()
_batchers = weakref.WeakKeyDictionary()  # async client -> its CommandBatcher
_last_batcher = [None, None, None]  # (loop, _async, batcher) of the last batched() call


def _pool_options(retry_class):
    """The pool's options.  redis-py only retries when told to (a pool built by hand gets
    Retry(NoBackoff(), 0), not the client's default), so the retry is configured here.

    Why a retry cannot apply a command twice in a harmful way:
    - only ConnectionError is retried, never TimeoutError: a command that timed out may
      still be running on the server, whereas a ConnectionError is raised when the
      connection is found closed or refused, which after a restart means the command went
      to the dead server's socket and was never run by the new one;
    - should a command have reached the server and only its reply been lost (a network
      cut between send and reply), running it again is harmless for every command sent
      through these clients: SET/GET/EXPIRE/ZADD/HSET/DEL/ZMSCORE are idempotent, and the
      others fail closed -- a ticket's GETDEL finds nothing the second time (the handshake
      is refused and the client fetches a new ticket: a ticket is never used twice), the
      typing SET NX says "not first" (one typing event is skipped), the presence scripts
      report "no change" (the announcer checks Redis again at the end of its window).
    """
    retry = retry_class(NoBackoff(), CONNECTION_RETRIES, supported_errors=(RedisConnectionError,))
    return {"max_connections": POOL_SIZE, "timeout": COMMAND_TIMEOUT, "socket_timeout": COMMAND_TIMEOUT,
            "socket_connect_timeout": COMMAND_TIMEOUT, "health_check_interval": 30,
            "retry": retry, "retry_on_error": []}


class _BlockingSentinelPool(SentinelConnectionPool, redis.BlockingConnectionPool):
    """Sentinel's pool with the blocking pool's queueing (see POOL_SIZE): Sentinel's own
    methods resolve the master, the blocking pool hands out its connections."""


class _AsyncBlockingSentinelPool(AsyncSentinelPool, aredis.BlockingConnectionPool):
    """The asyncio twin of _BlockingSentinelPool."""


def _cluster_options():
    """RedisCluster's options: its own retry (which refreshes the slot map on a connection
    error or MOVED), our timeouts, POOL_SIZE connections per node."""
    topology = settings.REDIS_TOPOLOGY
    return {"max_connections": POOL_SIZE, "socket_timeout": COMMAND_TIMEOUT,
            "socket_connect_timeout": COMMAND_TIMEOUT,
            # A failover leaves a shard's slots uncovered for a few seconds: the client
            # must still start (and serve the other shards) meanwhile.
            "require_full_coverage": False,
            **env.redis_auth_kwargs(topology)}


def _sentinel(sentinel_class):
    topology = settings.REDIS_TOPOLOGY
    return sentinel_class(topology["sentinels"], sentinel_kwargs={
        "socket_timeout": COMMAND_TIMEOUT, "socket_connect_timeout": COMMAND_TIMEOUT,
        **env.sentinel_kwargs(topology)})


# What differs between the two flavours of client: the redis-py module, its Sentinel, the
# blocking Sentinel pool and the retry class.  _client() builds either the same way.
_SYNC = (redis, Sentinel, _BlockingSentinelPool, Retry)
_ASYNC = (aredis, AsyncSentinel, _AsyncBlockingSentinelPool, AsyncRetry)


def _client(flavour):
    """A client for the configured topology (cluster, sentinel or one URL)."""
    module, sentinel_class, pool_class, retry_class = flavour
    topology = settings.REDIS_TOPOLOGY
    if topology["mode"] == "cluster":
        return module.RedisCluster(startup_nodes=[module.cluster.ClusterNode(host, port)
                                                  for host, port in topology["nodes"]],
                                   **_cluster_options())
    if topology["mode"] == "sentinel":
        return _sentinel(sentinel_class).master_for(
            topology["master"], redis_class=module.Redis,
            connection_pool_class=pool_class, db=topology["db"],
            **_pool_options(retry_class), **env.redis_auth_kwargs(topology))
    pool = module.BlockingConnectionPool.from_url(settings.REDIS_URL, **_pool_options(retry_class))
    return module.Redis(connection_pool=pool)


def sync_client():
    """This process's sync client (threads share it), built on first use."""
    key = os.getpid()
    client = _sync.get(key)
    if client is None:
        client = _sync[key] = _client(_SYNC)
    return client


def async_client():
    """This event loop's async client, built on first use."""
    loop = asyncio.get_running_loop()
    client = _async.get(loop)
    if client is None:
        client = _async[loop] = _client(_ASYNC)
    return client


class _SharedClientCacheClient(RedisCacheClient):
    def get_client(self, key=None, *, write=False):
        return sync_client()


class SharedClientCache(RedisCache):
    """Django's Redis cache over sync_client(): used under Sentinel or Cluster, where
    Django's own RedisCache (built from URLs) could not follow a failover or a slot map.
    On a Cluster, get_many/set_many across slots are refused (nothing here uses them)."""

    def __init__(self, server, params):
        super().__init__(server or "shared", params)
        self._class = _SharedClientCacheClient


class CommandBatcher:
    """Auto-pipelining: the commands callers issue during one event-loop turn go to Redis
    as one pipeline, one round trip (as ioredis' and rueidis' auto-pipelining do).

    Why: in a connect storm hundreds of sockets each redeem a ticket and join presence at
    once; redis-py's own cost per command (pool checkout, health check, timeouts, retry)
    was a large share of the server's CPU.  At low load a batch is one command.  Each caller
    still gets its own reply or its own error; a connection error fails every command of
    that batch (each caller sees it as it did before); the pipeline is retried
    (CONNECTION_RETRIES times) on a fresh connection first (see _pool_options for why that
    is safe).  Only for commands whose callers need no order among themselves: two batches
    may be in flight on two connections."""

    __slots__ = ("client", "queue", "scheduled", "inflight", "__weakref__")

    def __init__(self, client):
        self.client = client
        self.queue = []  # [(args, future)] not sent yet
        self.scheduled = False
        self.inflight = set()  # the batches' tasks (a task nothing references may vanish)

    def execute(self, *args):
        """A future of the reply to one command (`args` as for execute_command)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.queue.append((args, future))
        if not self.scheduled:
            self.scheduled = True
            # Sent two turns later, not one: under uvloop a turn handles only a few sockets,
            # and waiting one more turn tripled the batch in a connect storm (3 -> 8
            # commands, 20 % less CPU per connect) for a few microseconds of latency.
            loop.call_soon(loop.call_soon, self._flush)
        return future

    def _flush(self):
        self.scheduled = False
        batch, self.queue = self.queue, []
        task = asyncio.ensure_future(self._send(batch))
        self.inflight.add(task)
        task.add_done_callback(self.inflight.discard)

    async def _send(self, batch):
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for args, _ in batch:
                    pipe.execute_command(*args)
                replies = await pipe.execute(raise_on_error=False)
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        except BaseException:  # cancelled (the loop is closing): so are its callers
            for _, future in batch:
                future.cancel()
            raise
        for (_, future), reply in zip(batch, replies, strict=True):
            if future.done():  # the caller was cancelled meanwhile
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)


def batched():
    """This event loop's CommandBatcher (over async_client())."""
    loop = asyncio.get_running_loop()
    last = _last_batcher
    if last[0] is loop and last[1] is _async:  # the usual case: one loop per process
        return last[2]
    client = async_client()
    batcher = _batchers.get(client)
    if batcher is None:
        batcher = _batchers[client] = CommandBatcher(client)
    # Kept by identity (the loop stays referenced, so no new loop can share its id): a new
    # loop, or a test that swaps the clients' table for another Redis, looks up afresh.
    _last_batcher[:] = [loop, _async, batcher]
    return batcher


async def run_script(script, sha, keys, args):
    """EVALSHA through the batcher; EVAL when Redis does not know the script yet (a new or
    restarted server), which also caches it there for the next calls."""
    try:
        return await batched().execute("EVALSHA", sha, len(keys), *keys, *args)
    except NoScriptError:
        return await batched().execute("EVAL", script, len(keys), *keys, *args)


def script_sha(script):
    return hashlib.sha1(script.encode()).hexdigest()
