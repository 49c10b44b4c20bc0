"""The soak's client side (bench/soak.py): its bookkeeping, one socket (over the client
library's raw core, as every bench connection) and the steady sending."""
import asyncio
import secrets
import time
from collections import Counter, defaultdict

from switchboard_client.protocol import ConnectionClosed

from bench.adapters import Conn

# Seconds a soak request (subscribe, chat.send) may wait for its answer: a loaded server
# answers within seconds; longer means the run is measuring a failure.
REQUEST_TIMEOUT = 30.0


class Run:
    """The bookkeeping of one soak run (all in this process's event loop)."""

    def __init__(self, rooms):
        self.members = Counter()             # room -> subscribed clients
        self.sent = {}                       # body -> (room, monotonic send time)
        self.expected = 0
        self.delivered = 0
        self.latency = defaultdict(list)     # minute -> [seconds]
        self.errors = Counter()
        self.closes = Counter()
        self.disorder = 0
        self.t0 = None


class Client:
    """One soak socket: bench/adapters.py's Conn (the client library's raw core) in reader
    mode, so its requests run concurrently and their replies settle them; every other
    frame is counted by on_frame().  `reader` ends at the close, counted by its code."""

    def __init__(self, run, ws, room):
        self.run, self.room = run, room
        self.conn = Conn(ws, room, room)
        self.last_seq = None
        self.reader = self.conn.core.start_reader(self.on_frame)
        self.reader.add_done_callback(self._closed)

    def on_frame(self, frame):
        """An event (or an answer nobody waits for) read by the core's reader."""
        if frame.get("type") != "event":
            return
        run = self.run
        seq = frame.get("seq")
        if seq is not None:
            if self.last_seq is not None and seq != self.last_seq + 1:
                run.disorder += 1
            self.last_seq = seq
        if frame.get("event") == "chat.message":
            sent = run.sent.get(frame["data"]["message"]["body"])
            if sent is not None:
                now = time.monotonic()
                run.delivered += 1
                run.latency[int((now - run.t0) // 60)].append(now - sent[1])

    def _closed(self, _reader):
        code = self.conn.core.closed_with
        self.run.closes[str(code if code is not None else self.conn.ws.close_code)] += 1

    async def request(self, action, topic, data, timeout=REQUEST_TIMEOUT):
        """The reply or error frame; an error frame `connection_closed` when the socket
        closed first (RequestTimeout, a TimeoutError, after `timeout` seconds)."""
        try:
            return await self.conn.core.request(action, topic, data, timeout=timeout, raw=True)
        except ConnectionClosed:
            return {"type": "error", "error": {"code": "connection_closed"}}

    async def close(self):
        await self.conn.close()


async def send_steadily(run, clients, args):
    """--rate chat.send per second in all, round robin over clients; replies awaited
    concurrently so a slow reply never slows the rate."""
    pending = set()
    interval = 1.0 / args.rate
    start = time.monotonic()
    n = 0

    async def send_one(client, body):
        run.sent[body] = (client.room, time.monotonic())
        reply = await client.request("chat.send", client.room, {"body": body, "client_id": body[-40:]})
        if reply["type"] == "reply":
            run.expected += run.members[client.room]
        else:
            run.errors[reply["error"]["code"]] += 1
            run.sent.pop(body, None)

    while time.monotonic() - start < args.duration:
        client = clients[n % len(clients)]
        task = asyncio.ensure_future(send_one(client, f"soak {n} {secrets.token_hex(6)}"))
        pending.add(task)
        task.add_done_callback(pending.discard)
        n += 1
        await asyncio.sleep(max(0.0, start + n * interval - time.monotonic()))
    if pending:
        await asyncio.wait(pending, timeout=60)


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else None
