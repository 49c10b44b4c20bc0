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
pay for nothing per connection or per frame.

A transport is anything with the three coroutines of `Transport` (transport.py);
`WebsocketsTransport` carries it over the `websockets` library; the repository's tests carry
it over channels' in-process WebsocketCommunicator (tests/ws.py).

Two ways to read, chosen per connection:
- pull (the default): nothing reads unless the caller does.  `request()` reads frames until
  its own reply arrives and keeps the others, in order, in `events` (a list);
  `receive()` reads the next frame from the transport.
- reader (`start_reader(on_frame)`): one task reads everything; replies settle their
  requests (so requests may run concurrently) and every other frame goes to `on_frame`.

Timeouts: every call that waits takes `timeout` (None: the connection's `timeout`, itself
None to wait forever).  A call has ONE deadline for all the frames it reads: a request
waiting behind other frames has its whole timeout, and no timer is made per frame.
"""

import asyncio
import collections
import itertools

from switchboard_client import errors
from switchboard_client.frames import decode, encode, is_answer, reply_result, request_frame
from switchboard_client.transport import Closed, ConnectionClosed, Transport, WebsocketsTransport

__all__ = ["Closed", "Connection", "ConnectionClosed", "Transport", "WebsocketsTransport", "decode",
           "encode", "reply_result", "request_frame"]

# A request's default wait for its reply: the same as Client's (options.REQUEST_TIMEOUT).
DEFAULT_TIMEOUT = 10.0
# How long close() lets a reader task see the close before cancelling it: the closing
# handshake of a live socket takes a round trip; a dead one is not worth waiting for.
READER_CLOSE_WAIT = 5.0


class Connection:
    """One socket speaking the protocol, raw: see the module docstring.  `id_prefix` starts
    every request id ("r1", "r2", ...); `timeout` is the default wait of every call."""

    def __init__(self, transport, *, id_prefix="r", timeout=DEFAULT_TIMEOUT):
        self.transport = transport
        self.id_prefix = id_prefix
        self.timeout = timeout
        self.ids = itertools.count(1)
        self.events = []  # pull mode: frames read while waiting for a reply, in order
        self.closed_with = None  # set when the close was read
        self.closed = asyncio.Event()
        self._pending = {}  # reader mode: request id -> future of its reply/error frame
        self._pushback = collections.deque()  # frames read by expect_silence(), not consumed
        self._reader = None

    # --- sending ------------------------------------------------------------------------
    async def send(self, frame):
        """Sends a frame as it is: a dict (JSON-encoded) or a str (malformed input, too)."""
        await self.transport.send(encode(frame))

    def next_id(self):
        """A fresh request id of this connection."""
        return f"{self.id_prefix}{next(self.ids)}"

    async def request(self, action, topic=None, data=None, *, timeout=None, raw=False):
        """Sends a request with a fresh id and waits for its reply: the reply's data, or the
        typed error (errors.ProtocolError subclass); `raw=True` returns the reply or error
        frame itself.  errors.RequestTimeout (a TimeoutError) when no answer came within
        `timeout` seconds in all; ConnectionClosed when the socket closes first."""
        timeout = self.timeout if timeout is None else timeout
        request_id = self.next_id()
        text = encode(request_frame(action, request_id, topic, data))
        try:
            async with asyncio.timeout(timeout):
                if self._reader is None:
                    frame = await self._pull_answer(text, request_id)
                else:
                    frame = await self._reader_answer(text, request_id)
        except TimeoutError as exc:
            if isinstance(exc, errors.ProtocolError):
                raise
            raise errors.RequestTimeout(f"No reply to {action} within {timeout} s.") from None
        return frame if raw else reply_result(frame)

    async def _pull_answer(self, text, request_id):
        """Pull mode: sends, then reads until the answer, keeping every other frame."""
        await self.transport.send(text)
        while True:
            frame = await self._next_frame()
            if is_answer(frame, request_id):
                return frame
            self.events.append(frame)

    async def _reader_answer(self, text, request_id):
        """Reader mode: the reader task settles the future; many may wait at once."""
        if self.closed_with is not None:
            raise ConnectionClosed(self.closed_with)
        future = self._pending[request_id] = asyncio.get_running_loop().create_future()
        try:
            await self.transport.send(text)
            return await future
        finally:
            self._pending.pop(request_id, None)

    # --- receiving (pull mode) ----------------------------------------------------------
    async def _next_frame(self, timeout=None):
        """The next frame (a kept expect_silence() one first); no timer unless `timeout`."""
        if self._pushback:
            return self._pushback.popleft()
        if self.closed_with is not None:
            raise ConnectionClosed(self.closed_with)
        got = await self.transport.recv(timeout)
        if got.__class__ is Closed:
            self._on_closed(got.code)
            raise ConnectionClosed(got.code)
        return decode(got)

    async def receive(self, timeout=None):
        """The next frame from the socket (not from `events`); ConnectionClosed once it
        closed, TimeoutError after `timeout` seconds (nothing is lost)."""
        return await self._next_frame(self.timeout if timeout is None else timeout)

    def __aiter__(self):
        return self

    async def __anext__(self):
        """`async for frame in conn`: every frame, without a timer, until the close."""
        try:
            return await self._next_frame()
        except ConnectionClosed:
            raise StopAsyncIteration from None

    async def next_event(self, timeout=None):
        """The oldest frame kept in `events`, else the next one read."""
        if self.events:
            return self.events.pop(0)
        return await self.receive(timeout)

    async def expect_silence(self, timeout=0.3):
        """True when nothing arrives within `timeout` seconds; a frame that does arrive
        is kept for the next read."""
        if self.events or self._pushback:
            return False
        try:
            frame = await self._next_frame(timeout)
        except TimeoutError:
            return True
        except ConnectionClosed:
            return False
        self._pushback.append(frame)
        return False

    async def wait_closed(self, timeout=None):
        """Reads (and drops) frames until the server closes; returns the close code."""
        async with asyncio.timeout(self.timeout if timeout is None else timeout):
            while True:
                try:
                    await self._next_frame()
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
        pending = self._pending
        try:
            while True:
                frame = await self._next_frame()
                future = pending.get(frame.get("request_id"))
                if future is not None and not future.done() and frame.get("type") in ("reply", "error"):
                    future.set_result(frame)
                else:
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
                async with asyncio.timeout(READER_CLOSE_WAIT):
                    await asyncio.shield(self._reader)
            except (TimeoutError, asyncio.CancelledError):
                self._reader.cancel()
