"""Target adapters: how to "connect + subscribe to topic X" and "publish to topic X"
on each server under test, and how to read a delivery back out of a server frame.

Every payload the load generator publishes is a small JSON object
    {"t": <time.time() at send>, "p": <publisher id>, "n": <per-publisher counter>, "pad": "xx.."}
carried as a *string* (the chat message body) so that all three targets move the same bytes.

Every connection is the client library's raw protocol core (switchboard_client.protocol,
the one protocol client the tests use too) over its websockets transport: frames are
encoded and decoded by it, with no timer per frame, and each target reads decoded frames.
Switchboard's own target (`Ours`) is in bench/adapter_ours.py.
"""
import html
import itertools
import urllib.parse
from collections import Counter

import orjson
from switchboard_client.frames import decode as decode_text
from switchboard_client.protocol import Connection, WebsocketsTransport
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


def as_frame(raw):
    """A frame as the targets' decode() takes it: as `async for frame in conn` reads it
    (a dict), or the text of one read straight from `conn.ws`."""
    return raw if raw.__class__ is dict else decode_text(raw)


class Conn:
    """One client connection (the raw core, `core`) plus the per-receiver ordering state
    the bench checks.  `async for frame in conn` reads decoded frames until the close;
    `await conn.send(text)` sends one; `ws` is the websockets connection underneath."""
    __slots__ = ("ws", "core", "topic", "room", "last_n", "last_seq", "tasks")

    def __init__(self, ws, room, topic):
        self.ws, self.room, self.topic = ws, room, topic
        # Request ids "1", "2", ...: "1" is ours' subscribe, the rest the bench's sends
        # (bench/chat.py tells its own answers from the keepalive's "ping-N" by the digits).
        # No default timeout: the readers wait for frames as long as the run lasts.
        self.core = Connection(WebsocketsTransport(ws), id_prefix="", timeout=None)
        self.last_n: dict = {}     # publisher id -> last counter seen (out-of-order check)
        self.last_seq: dict = {}   # topic -> last seq seen ("ours" only)
        self.tasks: list = []      # keepalive and similar helpers

    @property
    def ids(self):
        """The connection's request id counter (next(conn.ids) is a fresh id)."""
        return self.core.ids

    def __aiter__(self):
        return self.core

    async def send(self, text):
        await self.core.send(text)

    async def close(self):
        for t in self.tasks:
            t.cancel()
        await self.core.close()


class Target:
    name = "?"
    echoes_cursor = True  # a cursor move also reaches its sender (counts in "expected")

    def __init__(self, args):
        self.args = args
        # --url may list several servers (comma-separated): connections go round-robin,
        # e.g. two Switchboard processes behind one Redis (scale-out).
        self.urls = [u.strip().rstrip("/") for u in (args.url or self.default_url).split(",")
                     if u.strip()]
        self.url = self.urls[0]
        self._next_url = itertools.cycle(self.urls)
        self.errors: Counter = Counter()  # server error codes seen ("ours")

    def pick_url(self) -> str:
        return next(self._next_url)

    def board_room(self, base, i) -> str:
        """Room name of cursor-storm board i (the tutorial's URL takes \\w+ only)."""
        return f"{base}_{i}"

    async def setup(self):
        """Once per run, before any connection (e.g. log in)."""

    async def prepare(self, clients: int):
        """Before a timed connect storm: whatever the target's clients hold beforehand."""

    async def open(self, room: str, kind: str = "chat") -> Conn:
        raise NotImplementedError

    def publish_frame(self, conn: Conn, body: str) -> str:
        raise NotImplementedError

    def cursor_frame(self, conn: Conn, payload: dict) -> str:
        """An ephemeral cursor move; targets without one publish a normal message."""
        return self.publish_frame(conn, dumps(payload))

    def decode(self, frame):
        """A server frame (see as_frame) -> (topic, seq or None, payload dict or None) for
        deliveries, else None."""
        raise NotImplementedError


class Baseline(Target):
    """The Channels tutorial: ws://HOST/ws/chat/<room>/, {"message": ...} both ways."""
    name, default_url = "baseline", "ws://127.0.0.1:8101"

    async def open(self, room, kind="chat"):
        url = self.pick_url()
        host = urllib.parse.urlsplit(url).netloc
        # AllowedHostsOriginValidator rejects a missing Origin, so send the browser's one.
        ws = await connect(f"{url}/ws/chat/{room}/", origin=f"http://{host}", **CONNECT_KW)
        return Conn(ws, room, room)  # group_add ran before accept(): already subscribed

    def publish_frame(self, conn, body):
        return dumps({"message": body})

    def decode(self, frame):
        # Frames do not name their room (one room per connection), hence topic None.
        return None, None, parse_payload(as_frame(frame).get("message"))


class Reference(Target):
    """bench/reference/server.py: {"sub": room} / {"pub": room, "data": ...}."""
    name, default_url = "reference", "ws://127.0.0.1:8102"

    async def open(self, room, kind="chat"):
        ws = await connect(self.pick_url() + "/", **CONNECT_KW)
        await ws.send(dumps({"sub": room}))  # no ack in this protocol
        return Conn(ws, room, room)

    def publish_frame(self, conn, body):
        return dumps({"pub": conn.room, "data": body})

    def decode(self, frame):
        frame = as_frame(frame)
        return frame.get("room"), None, parse_payload(frame.get("data"))


# Ours needs Conn and Target above, hence imported last.
from bench.adapter_ours import Ours  # noqa: E402

TARGETS = {t.name: t for t in (Ours, Baseline, Reference)}
