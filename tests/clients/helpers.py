"""What the client library's tests share: fast reconnect options, publishing from async
code, and waiting for a condition or for a subscription's next items."""

import asyncio
import time

from asgiref.sync import sync_to_async

from realtime.publish import publish

# Reconnect quickly in tests (the defaults are 0.5 s doubling to 30 s).
FAST = {"backoff_base": 0.1, "backoff_max": 0.5}
# Seconds a test waits for a condition or an item: a daphne restart on a busy 2-core machine
# takes a few; this only bounds a test that went wrong.
WAIT = 20.0


async def publish_async(topic, data, event="notification"):
    return await sync_to_async(publish)(topic, event, data)


async def wait_until(condition, timeout=WAIT):
    """Returns once `condition()` is true (checked every 20 ms); fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def take(sub, count, timeout=WAIT):
    """The next `count` items of a subscription."""
    async def read():
        return [await anext(sub) for _ in range(count)]

    return await asyncio.wait_for(read(), timeout)
