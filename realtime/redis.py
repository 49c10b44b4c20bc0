"""Redis clients for presence, tickets and instance leases (not the channel layer's).

One sync client per process (threads share its pool) and one async client per event loop.
"""

import asyncio
import os
import weakref

import redis
import redis.asyncio as aredis
from django.conf import settings

# Seconds a Redis command may take before it fails (never None here: these are short
# commands, unlike the channel layer's blocking reads).
COMMAND_TIMEOUT = 5.0
# Connections per process and client.  A connect storm redeems hundreds of tickets at
# once: callers queue for a free connection (a blocking pool) instead of failing with
# "Too many connections" (redis-py's default pool refuses beyond its limit).
POOL_SIZE = 50

_sync = {}
_async = weakref.WeakKeyDictionary()


def _pool_options():
    return {"max_connections": POOL_SIZE, "timeout": COMMAND_TIMEOUT, "socket_timeout": COMMAND_TIMEOUT,
            "socket_connect_timeout": COMMAND_TIMEOUT, "health_check_interval": 30}


def sync_client():
    key = os.getpid()
    client = _sync.get(key)
    if client is None:
        pool = redis.BlockingConnectionPool.from_url(settings.REDIS_URL, **_pool_options())
        client = _sync[key] = redis.Redis(connection_pool=pool)
    return client


def async_client():
    loop = asyncio.get_running_loop()
    client = _async.get(loop)
    if client is None:
        pool = aredis.BlockingConnectionPool.from_url(settings.REDIS_URL, **_pool_options())
        client = _async[loop] = aredis.Redis(connection_pool=pool)
    return client
