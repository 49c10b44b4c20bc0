"""The protocol core: framing, request ids, reply matching, typed errors and event dispatch
over one transport, with no reconnect, no pings and no background task unless asked.

    conn = Connection(WebsocketsTransport(ws))
    data = await conn.request("subscribe", "room:lobby")      # typed error on an error frame
    frame = await conn.request("ping", raw=True)              # the reply or error frame itself
    await conn.send({"action": "nonsense"})                   # any frame, dict or text
    event = await conn.next_event()

`Client` (client.py) adds what a long-lived program needs on top (tickets, reconnect,
resubscribe with `since`, pings, auth.refresh).  This raw core is what tests and load
generators use: they want to send malformed frames, see error frames and close codes, and
pay for nothing per connection.

A transport is anything with the three coroutines of `Transport`; `WebsocketsTransport`
carries it over the `websockets` library; the repository's tests carry it over channels'
in-process WebsocketCommunicator (tests/ws.py), which this package must not import.

Two ways to read, chosen per connection:
- pull (the default): nothing reads unless the caller does.  `request()` reads frames until
  its own reply arrives and keeps the others, in order, in `events` (a list);
  `receive()` reads the next frame from the transport.
- reader (`start_reader(on_frame)`): one task reads everything; replies settle their
  requests (so requests may run concurrently) and every other frame goes to `on_frame`.
"""

import asyncio
import collections
import itertools
import json
import typing
from dataclasses import dataclass

from switchboard_client import errors


@dataclass(frozen=True)
class Closed:
    """What `Transport.recv()` returns once the socket is closed (code 1006: dropped)."""

    code: int | None
    reason: str = ""


class Transport(typing.Protocol):
    async def send(self, text: str) -> None:
        """Sends one text frame; raises ConnectionClosed when the socket is closed."""

    async def recv(self, timeout: float | None = None) -> "str | Closed":
        """The next text frame, or Closed (then again on every later call); TimeoutError
        after `timeout` seconds, without losing a frame or harming the connection."""

    async def close(self, code: int = 1000) -> None:
        """Closes the socket (idempotent)."""


class ConnectionClosed(ConnectionError):
    """The socket closed; `code` is its close code (1006 when it dropped)."""

    def __init__(self, code):
        super().__init__(f"closed with {code}")
        self.code = code


class WebsocketsTransport:
    """A `websockets` (>= 13, asyncio implementation) client connection as a Transport."""

    def __init__(self, ws):
        self.ws = ws

    async def send(self, text):
        from websockets.exceptions import ConnectionClosed as WsClosed

        try:
            await self.ws.send(text)
        except WsClosed:
            raise ConnectionClosed(self._code()) from None

    async def recv(self, timeout=None):
        from websockets.exceptions import ConnectionClosed as WsClosed

        try:
            async with asyncio.timeout(timeout):  # websockets' recv() is safe to cancel
                return await self.ws.recv()
        except WsClosed:
            return Closed(self._code(), self.ws.close_reason or "")

    async def close(self, code=1000):
        await self.ws.close(code)

    def _code(self):
        return self.ws.close_code if self.ws.close_code is not None else 1006


def encode(frame):
    """A frame (dict) as the JSON text sent; a str is sent as it is (raw tests)."""
    return frame if isinstance(frame, str) else json.dumps(frame, separators=(",", ":"))


def request_frame(action, request_id, topic=None, data=None):
    """The protocol's request frame (docs/protocol.md)."""
    frame = {"action": action, "request_id": request_id, "data": data or {}}
    if topic is not None:
        frame["topic"] = topic
    return frame


def reply_result(frame):
    """A reply frame's data; an error frame raised as its typed ProtocolError."""
    if frame.get("type") == "error":
        raise errors.ProtocolError.from_payload(frame.get("error"))
    return frame.get("data")


class Connection:
    """One socket speaking the protocol, raw: see the module docstring."""

    def __init__(self, transport, *, id_prefix="r"):
        self.transport = transport
        self.id_prefix = id_prefix
        self.ids = itertools.count(1)
        self.events = []  # pull mode: frames read while waiting for a reply, in order
        self.closed_with = None  # set when the close was read
        self.closed = asyncio.Event()
        self._pending = {}  # request id -> future of its reply/error frame
        self._pushback = collections.deque()  # frames read by expect_silence(), not consumed
        self._reader = None

    # --- sending ------------------------------------------------------------------------
    async def send(self, frame):
        """Sends a frame as it is: a dict (JSON-encoded) or a str (malformed input, too)."""
        await self.transport.send(encode(frame))

    async def request(self, action, topic=None, data=None, *, timeout=10.0, raw=False):
        """Sends a request with a fresh id and waits for its reply: the reply's data, or the
        typed error (errors.ProtocolError subclass); `raw=True` returns the reply or error
        frame itself.  errors.RequestTimeout (a TimeoutError) after `timeout`;
        ConnectionClosed when the socket closes first."""
        request_id = f"{self.id_prefix}{next(self.ids)}"
        future = self._pending[request_id] = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout):
                await self.send(request_frame(action, request_id, topic, data))
                if self._reader is None:
                    while not future.done():
                        frame = await self.receive()
                        if not self._settle(frame):
                            self.events.append(frame)
                frame = await future
        except TimeoutError as exc:
            if isinstance(exc, errors.ProtocolError):
                raise
            raise errors.RequestTimeout(f"No reply to {action} within {timeout} s.") from None
        finally:
            self._pending.pop(request_id, None)
        return frame if raw else reply_result(frame)

    def _settle(self, frame):
        """Settles the request a reply/error frame answers; False for any other frame."""
        if frame.get("type") not in ("reply", "error"):
            return False
        future = self._pending.get(frame.get("request_id"))
        if future is None or future.done():
            return False
        future.set_result(frame)
        return True

    # --- receiving (pull mode) ----------------------------------------------------------
    async def receive(self, timeout=None):
        """The next frame from the socket (not from `events`); ConnectionClosed once it
        closed, TimeoutError after `timeout` seconds (nothing is lost)."""
        if self._pushback:
            return self._pushback.popleft()
        if self.closed_with is not None:
            raise ConnectionClosed(self.closed_with)
        while True:
            got = await self.transport.recv(timeout)
            if isinstance(got, Closed):
                self._on_closed(got.code)
                raise ConnectionClosed(got.code)
            try:
                frame = json.loads(got)
            except ValueError:
                frame = None
            if isinstance(frame, dict):
                return frame
            # The server only sends JSON objects; anything else is kept for a test to see.
            return {"type": "invalid", "text": got}

    async def next_event(self, timeout=10.0):
        """The oldest frame kept in `events`, else the next one read."""
        if self.events:
            return self.events.pop(0)
        return await self.receive(timeout)

    async def expect_silence(self, timeout=0.3):
        """True when nothing arrives within `timeout` seconds; a frame that does arrive
        is kept for the next receive()."""
        if self.events or self._pushback:
            return False
        try:
            frame = await self.receive(timeout)
        except TimeoutError:
            return True
        except ConnectionClosed:
            return False
        self._pushback.append(frame)
        return False

    async def wait_closed(self, timeout=10.0):
        """Reads (and drops) frames until the server closes; returns the close code."""
        async with asyncio.timeout(timeout):
            while True:
                try:
                    await self.receive()
                except ConnectionClosed as exc:
                    return exc.code

    # --- reader mode --------------------------------------------------------------------
    def start_reader(self, on_frame):
        """Reads in a task from now on: replies settle their requests, every other frame
        is passed to `on_frame(frame)`; at the close, `closed` is set and requests still
        waiting raise ConnectionClosed."""
        if self._reader is None:
            self._reader = asyncio.ensure_future(self._read(on_frame))
        return self._reader

    async def _read(self, on_frame):
        try:
            while True:
                frame = await self.receive()
                if not self._settle(frame):
                    on_frame(frame)
        except ConnectionClosed:
            pass
        except Exception:  # the transport failed: the socket is as good as dropped
            self._on_closed(1006)

    def _on_closed(self, code):
        self.closed_with = code
        self.closed.set()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionClosed(code))

    async def close(self, code=1000):
        """Closes the socket; with a reader, waits (briefly) for it to see the close."""
        await self.transport.close(code)
        if self._reader is not None:
            try:
                async with asyncio.timeout(5):
                    await asyncio.shield(self._reader)
            except (TimeoutError, asyncio.CancelledError):
                self._reader.cancel()
