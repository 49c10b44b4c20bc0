"""Target adapters: how to "connect + subscribe to topic X" and "publish to topic X"
on each server under test, and how to read a delivery back out of a server frame.

Every payload the load generator publishes is a small JSON object
    {"t": <time.time() at send>, "p": <publisher id>, "n": <per-publisher counter>, "pad": "xx.."}
carried as a *string* (the chat message body) so that all three targets move the same bytes.
"""
import asyncio
import html
import itertools
import json
import urllib.parse
import urllib.request
import uuid
from collections import Counter

import orjson
from websockets.asyncio.client import connect

# Same client settings for every target: no permessage-deflate (daphne does not offer it,
# so negotiating it elsewhere would be unfair), no client-side pings, no proxy lookup.
CONNECT_KW = dict(compression=None, ping_interval=None, proxy=None,
                  open_timeout=30, close_timeout=2, max_size=2**22)


def dumps(obj) -> str:
    return orjson.dumps(obj).decode()


def parse_payload(body):
    """A published body back to its dict; None for frames the bench did not send."""
    if isinstance(body, dict):
        return body if "t" in body else None
    try:
        p = orjson.loads(body)
    except (orjson.JSONDecodeError, TypeError):
        try:  # a server that HTML-escapes message bodies
            p = orjson.loads(html.unescape(body))
        except (orjson.JSONDecodeError, TypeError):
            return None
    return p if isinstance(p, dict) and "t" in p else None


class Conn:
    """One client connection plus the per-receiver ordering state the bench checks."""
    __slots__ = ("ws", "topic", "room", "last_n", "last_seq", "tasks", "ids")

    def __init__(self, ws, room, topic):
        self.ws, self.room, self.topic = ws, room, topic
        self.last_n: dict = {}     # publisher id -> last counter seen (out-of-order check)
        self.last_seq: dict = {}   # topic -> last seq seen ("ours" only)
        self.tasks: list = []      # keepalive and similar helpers
        self.ids = itertools.count(2)  # request ids ("1" is the subscribe)

    async def close(self):
        for t in self.tasks:
            t.cancel()
        await self.ws.close()


class Target:
    name = "?"

    def __init__(self, args):
        self.args = args
        self.url = args.url.rstrip("/") if args.url else self.default_url
        self.errors: Counter = Counter()  # server error codes seen ("ours")

    async def setup(self):
        """Once per run, before any connection (e.g. log in)."""

    async def open(self, room: str, kind: str = "chat") -> Conn:
        raise NotImplementedError

    def publish_frame(self, conn: Conn, body: str) -> str:
        raise NotImplementedError

    def cursor_frame(self, conn: Conn, payload: dict) -> str:
        """An ephemeral cursor move; targets without one publish a normal message."""
        return self.publish_frame(conn, dumps(payload))

    def decode(self, raw):
        """Server frame -> (topic, seq or None, payload dict or None) for deliveries, else None."""
        raise NotImplementedError


class Baseline(Target):
    """The Channels tutorial: ws://HOST/ws/chat/<room>/, {"message": ...} both ways."""
    name, default_url = "baseline", "ws://127.0.0.1:8101"

    async def open(self, room, kind="chat"):
        host = urllib.parse.urlsplit(self.url).netloc
        # AllowedHostsOriginValidator rejects a missing Origin, so send the browser's one.
        ws = await connect(f"{self.url}/ws/chat/{room}/", origin=f"http://{host}", **CONNECT_KW)
        return Conn(ws, room, room)  # group_add ran before accept(): already subscribed

    def publish_frame(self, conn, body):
        return dumps({"message": body})

    def decode(self, raw):
        # Frames do not name their room (one room per connection), hence topic None.
        return None, None, parse_payload(orjson.loads(raw).get("message"))


class Reference(Target):
    """bench/reference/server.py: {"sub": room} / {"pub": room, "data": ...}."""
    name, default_url = "reference", "ws://127.0.0.1:8102"

    async def open(self, room, kind="chat"):
        ws = await connect(self.url + "/", **CONNECT_KW)
        await ws.send(dumps({"sub": room}))  # no ack in this protocol
        return Conn(ws, room, room)

    def publish_frame(self, conn, body):
        return dumps({"pub": conn.room, "data": body})

    def decode(self, raw):
        f = orjson.loads(raw)
        return f.get("room"), None, parse_payload(f.get("data"))


class Ours(Target):
    """Switchboard's protocol: ws://HOST/ws/?ticket=T, action frames, reply/error/event frames."""
    name, default_url = "ours", "ws://127.0.0.1:8000/ws"
    PING_EVERY = 25.0

    async def setup(self):
        u = urllib.parse.urlsplit(self.url)  # the HTTP API is on the same host unless --api-url
        self.http = (self.args.api_url or
                     f"{'https' if u.scheme == 'wss' else 'http'}://{u.netloc}").rstrip("/")
        self.client_tag = uuid.uuid4().hex[:8]
        res = await asyncio.to_thread(self._post, "/api/auth/token/",
                                      {"username": self.args.username,
                                       "password": self.args.password})
        self.token = res["token"]

    def _post(self, path, body, headers=None):
        req = urllib.request.Request(self.http + path, data=json.dumps(body).encode(),
                                     method="POST", headers={"Content-Type": "application/json",
                                                             **(headers or {})})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    async def open(self, room, kind="chat"):
        # Tickets are single use: one fresh ticket per connection.
        ticket = (await asyncio.to_thread(self._post, "/api/auth/ticket/", {},
                                          {"Authorization": f"Token {self.token}"}))["ticket"]
        ws = await connect(f"{self.url}/?ticket={urllib.parse.quote(ticket)}", **CONNECT_KW)
        topic = f"{'board' if kind == 'board' else 'room'}:{room}"
        conn = Conn(ws, room, topic)
        await ws.send(dumps({"action": "subscribe", "request_id": "1", "topic": topic, "data": {}}))
        async with asyncio.timeout(30):  # wait for our reply, skipping anything else
            while True:
                f = orjson.loads(await ws.recv())
                if f.get("request_id") == "1" and f.get("type") in ("reply", "error"):
                    break
        if f["type"] == "error":
            await ws.close()
            raise RuntimeError(f"subscribe {topic}: {f.get('error')}")
        conn.tasks.append(asyncio.create_task(self._keepalive(conn)))
        return conn

    async def _keepalive(self, conn):
        while True:  # ends when the connection is closed (task cancelled / send fails)
            await asyncio.sleep(self.PING_EVERY)
            await conn.ws.send(dumps({"action": "ping", "request_id": f"ping-{next(conn.ids)}",
                                      "data": {}}))

    def publish_frame(self, conn, body):
        rid = next(conn.ids)
        return dumps({"action": "chat.send", "request_id": str(rid), "topic": conn.topic,
                      "data": {"body": body, "client_id": f"{self.client_tag}-{id(conn)}-{rid}"}})

    def cursor_frame(self, conn, payload):
        # x/y are what the protocol defines; t/p/n ride along for latency if the server keeps them.
        return dumps({"action": "board.cursor", "request_id": str(next(conn.ids)),
                      "topic": conn.topic, "data": {"x": payload["n"] % 1000,
                                                    "y": payload["n"] % 700, **payload}})

    def decode(self, raw):
        f = orjson.loads(raw)
        kind = f.get("type")
        if kind == "event":
            data = f.get("data") or {}
            if f.get("event") == "chat.message":
                payload = parse_payload((data.get("message") or {}).get("body"))
            elif f.get("event") == "board.cursor":
                payload = parse_payload(data.get("cursor", data))
            else:  # presence etc.: still part of the topic's seq stream
                payload = None
            seq = f.get("seq")
            return f.get("topic"), seq if isinstance(seq, int) else None, payload
        if kind == "error":
            self.errors[str((f.get("error") or {}).get("code"))] += 1
        return None


TARGETS = {t.name: t for t in (Ours, Baseline, Reference)}
