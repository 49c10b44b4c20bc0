"""The soak's client side (bench/soak.py): its bookkeeping, one socket's reader and
requests, and the steady sending."""
import asyncio
import itertools
import secrets
import time
from collections import Counter, defaultdict


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
    def __init__(self, run, ws, room):
        self.run, self.ws, self.room = run, ws, room
        self.ids = itertools.count(1)
        self.waiting = {}
        self.last_seq = None
        self.reader = asyncio.ensure_future(self.read())

    async def read(self):
        import orjson

        run = self.run
        try:
            async for text in self.ws:
                frame = orjson.loads(text)
                kind = frame.get("type")
                if kind == "event":
                    if frame.get("seq") is not None:
                        if self.last_seq is not None and frame["seq"] != self.last_seq + 1:
                            run.disorder += 1
                        self.last_seq = frame["seq"]
                    if frame.get("event") == "chat.message":
                        sent = run.sent.get(frame["data"]["message"]["body"])
                        if sent is not None:
                            now = time.monotonic()
                            run.delivered += 1
                            run.latency[int((now - run.t0) // 60)].append(now - sent[1])
                elif kind in ("reply", "error"):
                    future = self.waiting.pop(frame.get("request_id"), None)
                    if future is not None and not future.done():
                        future.set_result(frame)
        except Exception:
            pass
        finally:
            run.closes[str(self.ws.close_code)] += 1
            for future in self.waiting.values():
                if not future.done():
                    future.set_result({"type": "error", "error": {"code": "connection_closed"}})

    async def request(self, action, topic, data, timeout=30.0):
        import orjson

        request_id = f"r{next(self.ids)}"
        future = self.waiting[request_id] = asyncio.get_running_loop().create_future()
        await self.ws.send(orjson.dumps({"action": action, "request_id": request_id, "topic": topic,
                                         "data": data}).decode())
        return await asyncio.wait_for(future, timeout)


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
