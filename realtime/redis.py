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

_sync = {}
_async = weakref.WeakKeyDictionary()


def sync_client():
    key = os.getpid()
    client = _sync.get(key)
    if client is None:
        client = _sync[key] = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=COMMAND_TIMEOUT, socket_connect_timeout=COMMAND_TIMEOUT,
            health_check_interval=30,
        )
    return client


def async_client():
    loop = asyncio.get_running_loop()
    client = _async.get(loop)
    if client is None:
        client = _async[loop] = aredis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=COMMAND_TIMEOUT, socket_connect_timeout=COMMAND_TIMEOUT,
            health_check_interval=30,
        )
    return client
