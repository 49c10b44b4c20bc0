"""The ASGI input queue daphne gets from project/daphne_compat.py (_Inbox, in place of an
asyncio.Queue): FIFO, `get()` waits, a cancelled getter takes nothing, and an idle queue
holds neither a deque nor a future."""

import asyncio

import pytest

from project.daphne_compat import _Inbox


async def test_fifo_and_get_waits_for_a_message():
    inbox = _Inbox()
    inbox.put_nowait(1)
    inbox.put_nowait(2)
    assert [await inbox.get(), await inbox.get()] == [1, 2]
    assert inbox.items is None
    getter = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    assert not getter.done() and len(inbox.getters) == 1
    inbox.put_nowait(3)
    assert await getter == 3
    assert inbox.items is None and inbox.getters is None


async def test_is_truthy_when_empty():
    # daphne's HTTP protocol tests `if self.application_queue:` (an asyncio.Queue always is).
    assert _Inbox()


async def test_a_cancelled_getter_takes_nothing():
    inbox = _Inbox()
    getter = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    getter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await getter
    assert inbox.getters is None
    inbox.put_nowait("kept")
    assert await inbox.get() == "kept"


async def test_woken_then_cancelled_passes_the_message_to_the_next_getter():
    inbox = _Inbox()
    first = asyncio.ensure_future(inbox.get())
    second = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait("m")  # wakes the first getter...
    first.cancel()  # ...which is cancelled before it runs
    assert await asyncio.wait_for(second, 1) == "m"
    assert first.cancelled()
    assert inbox.items is None and inbox.getters is None
