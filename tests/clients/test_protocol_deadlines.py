"""The raw core's waits over a scripted transport (no server): one deadline per call, never
one per frame, so a reply that comes after other frames or after a slow server still
counts; a read never loses a frame to a timeout; orjson and the fallback decode alike."""

import asyncio

import pytest
from switchboard_client import Unavailable, frames
from switchboard_client.errors import RequestTimeout
from switchboard_client.protocol import Closed, Connection


class ScriptedTransport:
    """Frames the test pushes (`push`), read in order; answers nothing by itself."""

    def __init__(self):
        self.inbox = asyncio.Queue()
        self.sent = []

    def push(self, frame):
        self.inbox.put_nowait(frames.encode(frame) if isinstance(frame, dict) else frame)

    async def send(self, text):
        self.sent.append(frames.decode(text))

    async def recv(self, timeout=None):
        async with asyncio.timeout(timeout):
            return await self.inbox.get()

    async def close(self, code=1000):
        self.inbox.put_nowait(Closed(code))


async def answer_after(transport, delay, frame):
    """Answers the first request sent after `delay` seconds: a server slower than the
    connection's default wait (PostgreSQL's pool waits its timeout before `unavailable`)."""
    await asyncio.sleep(delay)
    transport.push({**frame, "request_id": transport.sent[0]["request_id"]})


async def test_a_request_waits_its_own_timeout_not_the_connections_default_per_read():
    transport = ScriptedTransport()
    conn = Connection(transport, timeout=0.2)
    error = {"type": "error", "error": {"code": "unavailable", "message": "database down"}}
    slow = asyncio.create_task(answer_after(transport, 0.5, error))
    with pytest.raises(Unavailable):
        await conn.request("subscribe", "open:x", timeout=5)
    await slow


async def test_frames_before_the_reply_are_kept_in_order_and_do_not_restart_the_deadline():
    transport = ScriptedTransport()
    conn = Connection(transport, timeout=5)
    for n in range(3):
        transport.push({"type": "event", "event": "notification", "seq": n + 1})
    transport.push({"type": "reply", "request_id": "r9", "data": {}})  # someone else's
    transport.push({"type": "reply", "request_id": "r1", "data": {"pong": 1}})
    assert await conn.request("ping") == {"pong": 1}
    assert [f.get("seq") for f in conn.events] == [1, 2, 3, None]


async def test_a_request_with_no_answer_raises_request_timeout_after_its_whole_timeout():
    transport = ScriptedTransport()
    conn = Connection(transport, timeout=5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(RequestTimeout):
        await conn.request("ping", timeout=0.3)
    assert loop.time() - started >= 0.3
    # The frame that comes late is not lost: the next read returns it.
    transport.push({"type": "reply", "request_id": "r1", "data": {}})
    assert (await conn.receive(1))["request_id"] == "r1"


async def test_a_read_timeout_loses_nothing_and_silence_keeps_what_arrives():
    transport = ScriptedTransport()
    conn = Connection(transport, timeout=5)
    with pytest.raises(TimeoutError):
        await conn.receive(0.05)
    assert await conn.expect_silence(0.05)
    transport.push({"type": "event", "n": 1})
    assert not await conn.expect_silence(0.05)
    assert (await conn.next_event())["n"] == 1


async def test_iterating_reads_every_frame_until_the_close():
    transport = ScriptedTransport()
    conn = Connection(transport, timeout=None)
    for n in range(3):
        transport.push({"n": n})
    transport.push("not json")
    await transport.close(4000)
    got = [frame async for frame in conn]
    assert got == [{"n": 0}, {"n": 1}, {"n": 2}, {"type": "invalid", "text": "not json"}]
    assert conn.closed_with == 4000 and conn.closed.is_set()


def test_frames_decode_json_objects_and_mark_anything_else_invalid():
    assert frames.decode('{"type":"event","data":{"x":1.5}}') == {"type": "event", "data": {"x": 1.5}}
    assert frames.decode(b'{"a":"\\u00e9"}') == {"a": "é"}
    assert frames.decode("[1]") == {"type": "invalid", "text": "[1]"}
    assert frames.decode("{") == {"type": "invalid", "text": "{"}
    assert frames.encode({"a": "é", "b": [1]}) == '{"a":"é","b":[1]}'
    assert frames.encode("raw text") == "raw text"
