"""A client that completes the handshake, subscribes, then never reads, while events are
published to its topic.

A socket write waits for the peer (backpressure: uvicorn's websockets protocol does it,
and under daphne project/daphne_compat.py makes send() wait on Twisted's producer pause),
so the connection's send queue (REALTIME_SEND_QUEUE_BYTES) fills, the server stops
queueing for it and closes it 4503; memory stays flat and a normal client on the same
topic gets every event at once -- under either server.
"""

import asyncio
import base64
import os
import re
import socket
import struct
import time
import urllib.request

import orjson
import psutil
import pytest
from asgiref.sync import sync_to_async

from realtime.auth import issue_ticket
from realtime.publish import publish_many
from tests.servers import connect_client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

TOPIC = "open:slow"
# Room for a few whole batches: the hub may hand a socket two batches in one turn (a live
# broadcast plus an outbox fill), which a reading client must absorb without a 4503.
QUEUE_BYTES = 4 * 50 * 4100
BATCHES, PER_BATCH = 40, 50  # 2,000 events ...
BLOB = "x" * 4000  # ... of ~4 KB: 8 MB, far more than the socket buffers hold
# A normal client must get each batch of 50 within this (it takes ~30 ms here).
PROMPT = 2.0
# What the server may add while the slow client holds 8 MB unread (measured: < 1 MB).
RSS_BOUND = 20e6


# --- a raw WebSocket client that can stop reading ------------------------------------------
def raw_connect(server, ticket):
    """Handshake by hand on a socket with a tiny receive buffer; returns (socket, leftover)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws/?ticket={ticket} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096)
    head, rest = data.split(b"\r\n\r\n", 1)
    assert b" 101 " in head.split(b"\r\n")[0], head
    return sock, rest


def masked_text_frame(text):
    payload, mask = text.encode(), os.urandom(4)
    size = len(payload)
    length = bytes([0x80 | size]) if size < 126 else bytes([0x80 | 126]) + struct.pack("!H", size)
    return b"\x81" + length + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class FrameReader:
    """Reads server frames (unmasked) from the raw socket once the test lets it read."""

    def __init__(self, sock, buffered=b""):
        self.sock, self.buf = sock, buffered

    def _need(self, size):
        while len(self.buf) < size:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("socket closed without a close frame")
            self.buf += chunk

    def next(self):
        """(opcode, payload)."""
        self._need(2)
        opcode, size = self.buf[0] & 0x0F, self.buf[1] & 0x7F
        offset = 2
        if size == 126:
            self._need(4)
            size, offset = struct.unpack("!H", self.buf[2:4])[0], 4
        elif size == 127:
            self._need(10)
            size, offset = struct.unpack("!Q", self.buf[2:10])[0], 10
        self._need(offset + size)
        payload, self.buf = self.buf[offset:offset + size], self.buf[offset + size:]
        return opcode, payload


def subscribe_raw(server, user):
    ticket = issue_ticket(user)
    sock, rest = raw_connect(server, ticket)
    sock.sendall(masked_text_frame(orjson.dumps(
        {"action": "subscribe", "request_id": "s1", "topic": TOPIC}).decode()))
    reader = FrameReader(sock, rest)
    opcode, payload = reader.next()
    assert opcode == 1 and orjson.loads(payload)["request_id"] == "s1"
    return sock, reader


def closes_4503(server, wait_for=None):
    """The server's count of 4503 closes; with wait_for, polls up to 5 s for that count (the
    close comes REALTIME_SEND_QUEUE_GRACE_SECONDS after the queue filled)."""
    deadline = time.monotonic() + (5 if wait_for is not None else 0)
    while True:
        with urllib.request.urlopen(server.url + "/metrics", timeout=5) as response:
            text = response.read().decode()
        match = re.search(r'^switchboard_closes_total\{code="4503"\} (\S+)$', text, re.M)
        count = float(match[1]) if match else 0.0
        if wait_for is None or count >= wait_for or time.monotonic() > deadline:
            return count
        time.sleep(0.1)


async def flood_while_a_normal_client_listens(server, fast_user):
    """Publishes BATCHES x PER_BATCH events; returns the normal client's worst batch delay
    and how many events it got."""
    worst, got = 0.0, []
    async with await connect_client(server, fast_user) as fast:
        await fast.subscribe(TOPIC)
        for batch in range(BATCHES):
            start = time.monotonic()
            last = (batch + 1) * PER_BATCH - 1
            events = [(TOPIC, "notification", {"n": batch * PER_BATCH + i, "blob": BLOB})
                      for i in range(PER_BATCH)]
            await sync_to_async(publish_many)(events)
            got += await fast.collect(lambda e, last=last: e["data"].get("n") == last, timeout=10)
            worst = max(worst, time.monotonic() - start)
    # (presence events of the open kind come too; only the notifications count)
    return worst, [e["data"]["n"] for e in got if e["event"] == "notification"]


@pytest.mark.parametrize("kind", ["uvicorn", "daphne"])
async def test_a_non_reading_clients_queue_is_bounded_closed_4503_and_nobody_else_slows(
        asgi_server, make_user, kind):
    server = asgi_server(kind, REALTIME_SEND_QUEUE_BYTES=str(QUEUE_BYTES))
    slow_user, fast_user = await sync_to_async(make_user)("slow"), await sync_to_async(make_user)("fast")
    sock, reader = await sync_to_async(subscribe_raw)(server, slow_user)
    process = psutil.Process(server.pid)
    rss_before = process.memory_info().rss
    worst, delivered = await flood_while_a_normal_client_listens(server, fast_user)
    growth = process.memory_info().rss - rss_before
    print(f"{kind}: RSS growth {growth / 1e6:.1f} MB for {BATCHES * PER_BATCH * len(BLOB) / 1e6:.0f} MB "
          f"unread; normal client's worst batch {worst * 1000:.0f} ms")
    # The normal client got every event, in order, promptly.
    assert delivered == list(range(BATCHES * PER_BATCH))
    assert worst < PROMPT
    # The server stopped queueing for the slow client: its memory did not follow the 8 MB.
    assert growth < RSS_BOUND
    assert await asyncio.to_thread(closes_4503, server, 1) == 1
    # When the slow client reads again it finds a prefix of the events, in order: nothing
    # out of order, and it resumes with `since`.  uvicorn then sends the close frame 4503;
    # daphne (autobahn) has already dropped the connection 1 s after its close frame found
    # no answer, which discards what was unsent (its buffer is freed, not kept for a peer
    # that does not read).
    sock.settimeout(10)
    seqs = []
    while True:
        try:
            opcode, payload = await asyncio.to_thread(reader.next)
        except (ConnectionResetError, EOFError):
            assert kind == "daphne"
            break
        if opcode == 8:
            assert struct.unpack("!H", payload[:2])[0] == 4503
            break
        frame = orjson.loads(payload)
        if frame["event"] == "notification":
            seqs.append(frame["seq"])
    assert seqs == list(range(1, len(seqs) + 1))
    assert len(seqs) < BATCHES * PER_BATCH
    sock.close()


@pytest.mark.faults  # ~20 s; the fast memory-bounds test covers uvicorn in every run
async def test_uvicorn_drops_a_client_that_never_reads_within_15_seconds(asgi_server, make_user):
    """The close frame cannot reach a peer that does not read, so the server releases the
    connection on its side at once (hub, presence, the row closed with 4503)."""
    from realtime.models import Connection

    server = asgi_server("uvicorn", REALTIME_SEND_QUEUE_BYTES=str(QUEUE_BYTES))
    slow_user, fast_user = await sync_to_async(make_user)("slow"), await sync_to_async(make_user)("fast")
    sock, _ = await sync_to_async(subscribe_raw)(server, slow_user)
    await flood_while_a_normal_client_listens(server, fast_user)
    assert await asyncio.to_thread(closes_4503, server, 1) == 1
    port = sock.getsockname()[1]
    process = psutil.Process(server.pid)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if not any(c.raddr and c.raddr[1] == port and c.status == psutil.CONN_ESTABLISHED
                   for c in process.net_connections()):
            break
        await asyncio.sleep(0.5)
    row = await sync_to_async(Connection.objects.get)(user=slow_user)
    sock.close()
    assert (row.closed_at is not None, row.close_code) == (True, 4503)
