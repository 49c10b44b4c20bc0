"""Waiting on sockets in the tests: deadlines, never sleeps as synchronisation."""

import asyncio
import time


async def wait_for(predicate, timeout=10.0):
    """Polls until predicate() is true (a deadline, not a sleep as synchronisation)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.01)


async def events_of(ws, topic, count, event="chat.message", timeout=10.0):
    """The next `count` events named `event` of `topic` (others skipped)."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        frame = await ws.next_event(timeout=max(0.1, deadline - time.monotonic()))
        if frame.get("type") == "event" and frame["topic"] == topic and frame["event"] == event:
            got.append(frame)
    return got
