"""Memory bounded in bytes per connection, whatever the server: sockets that never read,
each asking to resume a topic's whole history of 100 KB events with one small frame.

The resume is read from the outbox a page at a time, the next page only once the socket
has taken the previous one, and a socket that takes nothing for the grace period is closed
4503 (realtime/send_queue.py, realtime/hub.py; under daphne project/daphne_compat.py gives
send() the backpressure uvicorn has).  Before, one such frame made the server load up to
10,000 events and queue them all at once.

The full size (10,000 events, 1 GB written to the outbox) is a `faults` test (make
test-faults); the normal suite runs 500 events with the bound scaled down."""

import asyncio
import base64
import os
import re
import socket
import time
import urllib.request

import orjson
import psutil
import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from realtime.models import Event, TopicCounter
from tests.reliability.test_slow_client import masked_text_frame

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(600)]

TOPIC = "open:history"
SOCKETS = 4
EVENT_BYTES = 100_000
GRACE = 1.0  # REALTIME_SEND_QUEUE_GRACE_SECONDS for these servers
# How long after its subscribe a socket that never reads may stay open: the grace, plus
# the first page's read and a loaded machine's slack.
CLOSED_WITHIN = GRACE + 4.0


def write_history(count):
    """`count` stored events of ~100 KB on TOPIC, as publish() leaves them in the outbox."""
    blob = "x" * EVENT_BYTES
    for start in range(1, count + 1, 200):
        Event.objects.bulk_create(Event(topic=TOPIC, seq=seq, event="notification",
                                        data={"n": seq, "blob": blob})
                                  for seq in range(start, min(start + 200, count + 1)))
    TopicCounter.objects.update_or_create(topic=TOPIC, defaults={"seq": count})
    # Into the database file: left in SQLite's write-ahead log, the server's connections
    # each read the 50 MB log (measured: ~25 MB RSS per reading thread), which would
    # measure SQLite, not the server (PostgreSQL has no such effect).
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def never_reading_resume(server):
    """An anonymous socket (a page of the site) with a tiny receive buffer that subscribes
    with since 0 and then never reads again."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws/ HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nOrigin: {server.url}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)  # byte by byte: leave every frame unread in the kernel
    assert b" 101 " in head.split(b"\r\n")[0], head
    sock.sendall(masked_text_frame(orjson.dumps(
        {"action": "subscribe", "request_id": "s", "topic": TOPIC, "data": {"since": 0}}).decode()))
    return sock


def closes_4503(server):
    with urllib.request.urlopen(server.url + "/metrics", timeout=5) as response:
        text = response.read().decode()
    match = re.search(r'^switchboard_closes_total\{code="4503"\} (\S+)$', text, re.M)
    return int(float(match[1])) if match else 0


async def resume_without_reading(asgi_server, kind, events, growth_bound, return_bound):
    await sync_to_async(write_history)(events)
    server = asgi_server(kind, REALTIME_SEND_QUEUE_GRACE_SECONDS=str(GRACE))
    process = psutil.Process(server.pid)
    # Warm up (the hub, the database connection, the first socket's imports): then measure.
    warm = await asyncio.to_thread(never_reading_resume, server)
    await poll(lambda: closes_4503(server) >= 1, CLOSED_WITHIN)
    warm.close()
    await asyncio.sleep(1)
    start_rss = process.memory_info().rss
    started = time.monotonic()
    sockets = [await asyncio.to_thread(never_reading_resume, server) for _ in range(SOCKETS)]
    peak = start_rss
    deadline = started + CLOSED_WITHIN
    while closes_4503(server) < 1 + SOCKETS and time.monotonic() < deadline:
        peak = max(peak, process.memory_info().rss)
        await asyncio.sleep(0.05)
    closed_after = time.monotonic() - started
    closes = closes_4503(server) - 1
    peak = max(peak, process.memory_info().rss)
    for sock in sockets:
        sock.close()
    # The server lets go of them (their transports, queues and pages): RSS comes back.
    returned = await poll(lambda: process.memory_info().rss - start_rss < return_bound, 10)
    end_rss = process.memory_info().rss
    print(f"{kind}: {SOCKETS} resumes of {events} x 100 KB: peak growth {(peak - start_rss) / 1e6:.1f} MB, "
          f"{closes} closed 4503 in {closed_after:.1f} s, after close {(end_rss - start_rss) / 1e6:.1f} MB")
    assert closes == SOCKETS
    assert peak - start_rss < growth_bound
    assert returned, f"RSS still {(end_rss - start_rss) / 1e6:.1f} MB over the start"


async def poll(condition, timeout):
    """True once condition() holds, False after timeout seconds (polled every 0.1 s)."""
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(condition):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


@pytest.mark.parametrize("kind", ["daphne", "uvicorn"])
async def test_sockets_that_never_read_a_500_event_resume_hold_little_memory_and_are_closed_4503(
        asgi_server, kind):
    """500 events of 100 KB (50 MB per socket, 200 MB for four, had they been loaded)."""
    await resume_without_reading(asgi_server, kind, 500, growth_bound=16e6, return_bound=20e6)


@pytest.mark.faults
@pytest.mark.parametrize("kind", ["daphne", "uvicorn"])
async def test_sockets_that_never_read_a_10000_event_resume_hold_under_64_mb_and_are_closed_4503(
        asgi_server, kind):
    """The issue's case: 10,000 events of 100 KB, 1 GB per socket had it been loaded."""
    await resume_without_reading(asgi_server, kind, 10_000, growth_bound=64e6, return_bound=20e6)
