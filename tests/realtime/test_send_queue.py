"""The send queue (realtime/send_queue.py) driven directly, on a real event loop: a fake
peer whose `send` blocks while it is not reading, and a fake owner that records being told
the client is too slow.  Synchronisation is on events, tasks and futures, never on time."""

import asyncio

import pytest

from realtime.consumer import RealtimeConsumer
from realtime.send_queue import SendQueue

BOUND = 100  # REALTIME_SEND_QUEUE_BYTES in these tests
HARD_FACTOR = 4
GRACE = 0.05
# Seconds to wait for something that must happen: far above GRACE.
DEADLINE = 5.0


@pytest.fixture(autouse=True)
def small_queue(settings):
    settings.REALTIME_SEND_QUEUE_BYTES = BOUND
    settings.REALTIME_SEND_QUEUE_HARD_FACTOR = HARD_FACTOR
    settings.REALTIME_SEND_QUEUE_GRACE_SECONDS = GRACE


class Peer:
    """The server's `send`: a frame is taken only while the peer reads (`reading` set)."""

    def __init__(self, reading=True):
        self.sent = []
        self.reading = asyncio.Event()
        self.closed = asyncio.Event()
        if reading:
            self.reading.set()

    async def send(self, message):
        if message["type"] == "websocket.send":
            await self.reading.wait()
        self.sent.append(message)
        if message["type"] == "websocket.close":
            self.closed.set()

    def texts(self):
        return [m["text"] for m in self.sent if m["type"] == "websocket.send"]


class Owner:
    """The queue's owner as it sees one: closing, out, too_slow()."""

    def __init__(self):
        self.closing = False
        self.out = None
        self.slow = asyncio.Event()

    def too_slow(self):
        self.slow.set()


def queue(peer):
    owner = Owner()
    owner.out = SendQueue(owner, peer.send)
    return owner, owner.out


async def test_frames_are_written_in_order_and_a_drained_queue_is_released():
    peer = Peer()
    owner, q = queue(peer)
    for text in ("a", "bb", "ccc"):
        assert q.put(text)
    await q.writer
    assert peer.texts() == ["a", "bb", "ccc"]
    assert q.pending == 0 and owner.out is None  # an idle socket keeps no queue


async def test_pending_counts_the_bytes_queued_and_the_frame_not_yet_taken():
    peer = Peer(reading=False)
    _, q = queue(peer)
    q.put("x" * 30)
    q.put("y" * 20)
    assert q.pending == 50
    peer.reading.set()
    await q.writer
    assert q.pending == 0


async def test_over_the_bound_within_the_grace_is_tolerated():
    _, q = queue(Peer(reading=False))
    assert q.put("x" * 60)
    assert q.put("x" * 60)  # 120 > BOUND, but only just now
    assert q.over_since is not None


async def test_past_the_hard_factor_the_client_is_too_slow_at_once():
    owner, q = queue(Peer(reading=False))
    assert q.put("x" * BOUND)
    assert not q.put("x" * BOUND * HARD_FACTOR)  # the caller closes it
    assert not owner.slow.is_set()  # told by the return value, not later


async def test_a_client_still_over_the_bound_after_the_grace_is_reported_without_another_frame():
    owner, q = queue(Peer(reading=False))
    q.put("x" * 60)
    q.put("x" * 60)
    await asyncio.wait_for(owner.slow.wait(), DEADLINE)


async def test_a_client_that_catches_up_within_the_grace_is_not_over_the_bound_any_more():
    peer = Peer(reading=False)
    _, q = queue(peer)
    q.put("x" * 60)
    q.put("x" * 60)
    peer.reading.set()
    await q.writer
    assert q.over_since is None  # the grace's re-check then finds nothing to report


async def test_a_non_reader_is_closed_4503_by_the_consumer_after_the_grace():
    peer = Peer(reading=False)
    consumer = RealtimeConsumer({"type": "websocket"}, peer.send)
    consumer.send_frame("x" * 60)
    consumer.send_frame("x" * 60)
    await asyncio.wait_for(peer.closed.wait(), DEADLINE)
    assert peer.sent == [{"type": "websocket.close", "code": 4503}]
    assert consumer.close_code == 4503 and consumer.out is None


async def test_put_close_writes_the_close_after_the_frames_queued_before_it():
    peer = Peer()
    _, q = queue(peer)
    q.put("a")
    q.put("b")
    q.put_close(4401)
    await q.writer
    assert peer.sent == [{"type": "websocket.send", "text": "a"},
                         {"type": "websocket.send", "text": "b"},
                         {"type": "websocket.close", "code": 4401}]
    assert type(peer.sent[-1]["code"]) is int  # autobahn refuses an int subclass


async def test_cancel_drops_waiting_frames_stops_the_writer_and_wakes_a_waiting_resume():
    peer = Peer(reading=False)
    owner, q = queue(peer)
    for text in ("a", "b", "c"):
        q.put(text)
    waiting = asyncio.ensure_future(q.wait_written(0))
    while q.progress is None:  # until the resume waits for progress
        await asyncio.sleep(0)
    owner.closing = True
    q.cancel()
    assert await asyncio.wait_for(waiting, DEADLINE) is False
    with pytest.raises(asyncio.CancelledError):
        await q.writer
    assert q.pending == 0 and not q.frames and peer.sent == []


async def test_wait_written_returns_once_the_client_has_taken_enough():
    peer = Peer(reading=False)
    _, q = queue(peer)
    for _ in range(3):
        q.put("x" * 50)
    waiting = asyncio.ensure_future(q.wait_written(60))
    peer.reading.set()
    assert await asyncio.wait_for(waiting, DEADLINE) is True
    assert q.pending <= 60


async def test_wait_written_gives_up_when_nothing_is_taken_for_the_grace():
    _, q = queue(Peer(reading=False))
    q.put("x" * 50)
    assert await asyncio.wait_for(q.wait_written(0), DEADLINE) is False
