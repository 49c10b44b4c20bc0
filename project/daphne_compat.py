"""daphne fixes: RFC 6455 close codes (1001, 1008, 1009, 1011), backpressure on `send()`, no
per-frame log formatting, a frame written to an idle socket at once, and lean idle sockets.

Autobahn (under daphne) refuses any application close code but 1000 and 3000-4999, so a
`websocket.close` with 1001, 1009 or 1011 raised and the TCP connection was dropped without a
close frame; RFC 6455 §7.4.1 defines these codes for endpoints (uvicorn sends them).

Backpressure: daphne's `send()` handed each frame to Twisted and returned at once, and the
transport buffered without bound what the peer did not read.  Each WebSocket registers a
_WriteGate as its transport's streaming producer (IPushProducer, in place of the HTTP channel
that handed it the transport), which Twisted pauses while the buffer is over its bufferSize
(64 KiB); the application's `send()` returns only while the gate is open, as uvicorn's does, so
the consumer's send queue (realtime/send_queue.py) sees what a client leaves unread (4503).

Write-through: Twisted's `transport.write()` only buffers, the reactor sending on its next turn:
two epoll_ctl calls and a reactor turn per frame to an idle socket (much of the event loop's
time in the chat-rooms bench, docs/performance.md).  With nothing buffered the bytes go to the
socket at once, as asyncio's transports do; the rest is buffered the usual way (with the pause
above), so order, partial writes and backpressure are Twisted's own.

Idle memory (what each idle socket keeps): daphne's asyncio.Queue for `receive` (four empty
deques, ~3 KB) becomes an _Inbox, a FIFO holding a deque only while messages wait.  Autobahn
copies its factory's ~30 options into each protocol (a __dict__ of 3.3 KB instead of 1.6) and
keeps the opening handshake and the last frame's unmasker for good: the options go to a
subclass (one per set of values), the rest is dropped once unused.
"""

import asyncio
import logging
from collections import deque, namedtuple
from functools import partial

try:
    from twisted.internet.interfaces import IPushProducer
    from zope.interface import implementer
except ImportError:  # no daphne here (uvicorn only): patch() does nothing
    IPushProducer = None

    def implementer(interface):
        return lambda cls: cls

logger = logging.getLogger("project.daphne_compat")

RFC_ENDPOINT_CODES = {1001, 1008, 1009, 1011}  # RFC 6455 lets endpoints send; sendClose() refuses


def patch():
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:  # not running under daphne
        return
    if getattr(WebSocketProtocol, "_switchboard_patched", False):
        return
    original = WebSocketProtocol.serverClose

    def server_close(self, code=None):
        if code in RFC_ENDPOINT_CODES:
            self.sendCloseFrame(code=code, isReply=False)
        else:
            original(self, code)

    WebSocketProtocol.serverClose = server_close
    _light_input_queue()
    _lean_protocol(WebSocketProtocol)
    _add_backpressure(WebSocketProtocol)
    _write_through()
    WebSocketProtocol._switchboard_patched = True
    _quiet_autobahn_highlighting()


@implementer(IPushProducer)
class _WriteGate:
    """The producer of one daphne WebSocket's transport: closed while the transport's
    buffer is over its high-water mark.  Twisted calls these on the event loop's thread
    (daphne runs Twisted on asyncio), so a plain future wakes the waiting `send()`."""

    __slots__ = ("paused", "waiter")

    def __init__(self):
        self.paused, self.waiter = False, None  # a waiter only while a send() waits

    def pauseProducing(self):
        self.paused = True

    def resumeProducing(self):
        self.paused = False
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    stopProducing = resumeProducing  # the connection is gone: let the waiting send() return
    async def wait(self):
        """Returns once the transport's buffer is back under the mark (or it is gone)."""
        while self.paused:
            if self.waiter is None or self.waiter.done():
                self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter


class _Inbox:
    """One connection's ASGI input queue (daphne's asyncio.Queue): unbounded FIFO; a getter
    cancelled while it waits takes nothing.  A deque/future only while messages/getters wait."""

    __slots__ = ("items", "getters")

    def __init__(self):
        self.items = self.getters = None  # a deque / [futures of waiting get()s], while any

    def put_nowait(self, item):
        """Called by daphne's protocol for each message (never blocks)."""
        self.items = self.items or deque()
        self.items.append(item)
        self._wake()

    def _wake(self):
        for waiter in self.getters or ():
            if not waiter.done():
                waiter.set_result(None)
                return

    async def get(self):
        """The ASGI `receive`: the next message, waiting for one."""
        while not self.items:
            waiter = asyncio.get_running_loop().create_future()
            self.getters = self.getters or []
            self.getters.append(waiter)
            try:
                await waiter
            except BaseException:
                waiter.cancel()
                if self.items and not waiter.cancelled():
                    self._wake()  # woken, then cancelled: the message goes to another getter
                raise
            finally:
                self.getters.remove(waiter)
                self.getters = self.getters or None
        item = self.items.popleft()
        self.items = self.items or None
        return item


def _light_input_queue():
    """daphne's Server.create_application, with an _Inbox for its asyncio.Queue."""
    from daphne.server import Server

    def create_application(self, protocol, scope):
        assert "application_instance" not in self.connections[protocol]
        input_queue = _Inbox()
        scope.setdefault("asgi", {"version": "3.0"})
        application_instance = self.application(
            scope=scope, receive=input_queue.get, send=partial(self.handle_reply, protocol))
        if protocol not in self.connections:
            return None
        self.connections[protocol]["application_instance"] = asyncio.ensure_future(
            application_instance, loop=asyncio.get_event_loop())
        return input_queue

    Server.create_application = create_application


# Protocol attributes only the opening handshake reads (autobahn's, daphne's): dropped once open.
HANDSHAKE_ONLY = (
    "http_request_data", "http_status_line", "http_headers", "http_headers_cnt", "_wskey", "http_request_uri",
    "http_request_path", "http_request_params", "http_request_host", "websocket_protocols", "root_path",
    "websocket_extensions", "websocket_origin", "http_response_data", "clean_headers", "_raw_query_string",
    "application_deferred")
# Set per socket, these keep their values until an error or the close: once open they are the class's
# (written, the instance's own come back), so an idle socket's __dict__ stays 832 B (<= 42 keys), not 1.6 KB.
OPEN_DEFAULTS = {**dict.fromkeys((
    "wasNotCleanReason", "localCloseCode", "localCloseReason", "remoteCloseCode", "remoteCloseReason",
    "openHandshakeTimeoutCall", "closeHandshakeTimeoutCall", "autoPingTimeoutCall", "autoPingPending",
    "autoPingPendingCall", "autoPingPendingSent", "protocol_to_accept", "websocket_protocol_in_use",
    "_perMessageCompress", "trackedTimings")), **dict.fromkeys((
        "wasMaxFramePayloadSizeExceeded", "wasMaxMessagePayloadSizeExceeded", "closedByMe", "failedByMe",
        "droppedByMe", "wasClean", "triggered", "wasServerConnectionDropTimeout", "wasOpenHandshakeTimeout",
        "wasCloseHandshakeTimeout", "wasServingFlashSocketPolicyFile"), False),
    "autoPingPendingSeq": 0, "send_state": 0}
_OpenedRequest = namedtuple("_OpenedRequest", "path")  # what is kept of autobahn's request


class _SendQueue(list):
    """Autobahn's send_queue (a deque, ~760 B empty) as a list (56): daphne never fills it."""

    __slots__ = ()

    def popleft(self):
        return self.pop(0)


_CONFIGURED = {}  # (protocol class, ids of the option values) -> its subclass


def _configured_class(cls, factory):
    """cls with the factory's options as class attributes (autobahn's _connectionMade copies
    them into each instance); one per set of values, kept alive by it, so ids identify them."""
    values = {name: getattr(factory, name) for name in cls.CONFIG_ATTRS if not hasattr(cls, name)}
    key = (cls, tuple(map(id, values.values())))
    if key not in _CONFIGURED:  # a function (perMessageCompressionAccept) must not bind: static
        _CONFIGURED[key] = type(cls.__name__, (cls,), {
            **OPEN_DEFAULTS, **{name: staticmethod(value) if hasattr(type(value), "__get__")
                                else value for name, value in values.items()},
            "_switchboard_options": True,
            "__module__": cls.__module__, "__qualname__": cls.__qualname__})
    return _CONFIGURED[key]


def _lean_protocol(WebSocketProtocol):
    original_made, original_open = WebSocketProtocol._connectionMade, WebSocketProtocol.onOpen
    original_frame_end = WebSocketProtocol.onFrameEnd

    def connection_made(self):
        if "_switchboard_options" not in type(self).__dict__:
            self.__class__ = _configured_class(type(self), self.factory)
        original_made(self)
        self.send_queue = _SendQueue(self.send_queue)

    def on_open(self):
        original_open(self)
        # A new dict: one does not shrink as keys go.
        attrs = {name: value for name, value in self.__dict__.items() if name not in HANDSHAKE_ONLY
                 and (name not in OPEN_DEFAULTS or value is not OPEN_DEFAULTS[name])}
        if attrs.get("request") is not None:
            attrs["request"] = _OpenedRequest(attrs["request"].path)
        self.__dict__ = attrs

    def on_frame_end(self):
        ended = original_frame_end(self)
        self.current_frame_masker = None  # unused until the next frame header makes one
        return ended

    WebSocketProtocol._connectionMade = connection_made
    WebSocketProtocol.onOpen, WebSocketProtocol.onFrameEnd = on_open, on_frame_end


def _add_backpressure(WebSocketProtocol):
    from daphne.server import Server

    original_connect = WebSocketProtocol.onConnect

    def on_connect(self, request):
        # The handshake has arrived: the transport is this protocol's now.
        gate = _WriteGate()
        try:
            self.transport.unregisterProducer()  # the HTTP channel it came through
            self.transport.registerProducer(gate, True)
            self._switchboard_gate = gate
        except Exception:  # a transport without producers: no backpressure, say so
            logger.warning("no write backpressure on %r", self.transport)
        return original_connect(self, request)

    original_reply = Server.handle_reply

    async def handle_reply(self, protocol, message):
        await original_reply(self, protocol, message)
        gate = getattr(protocol, "_switchboard_gate", None)
        if gate is not None and gate.paused and message.get("type") == "websocket.send":
            await gate.wait()

    WebSocketProtocol.onConnect = on_connect
    Server.handle_reply = handle_reply


def _write_through():
    """TCP transports send at once what arrives while nothing waits in their buffer (not
    over startTLS, whose write encrypts: plaintext must never skip it)."""
    from twisted.internet.tcp import Connection

    buffered_write = Connection.write

    def write(self, data):
        if (type(data) is bytes and data and not self._tempDataLen
                and self.offset == len(self.dataBuffer) and self.connected
                and not self.disconnecting and not self._writeDisconnected and not self.TLS):
            sent = self.writeSomeData(data)
            if type(sent) is int:  # else the connection is lost: the buffered path reports it
                if sent == len(data):
                    return
                data = data[sent:]
        buffered_write(self, data)

    Connection.write = write


def _quiet_autobahn_highlighting():
    """autobahn formats coloured debug-log arguments (hl/hltype/hlval) for every frame it sends,
    even with debug logging off: ~25-30 % of its send time in a broadcast (py-spy)."""
    from autobahn.websocket import protocol

    def plain(*args, **kwargs):
        return ""

    for name in ("hl", "hltype", "hlval"):
        if hasattr(protocol, name):
            setattr(protocol, name, plain)
    # Likewise each connection pretty-printed its ~60 options for one debug line (autobahn's
    # _connectionMade): 7-8 % of a connect storm.  Timings.__str__ (debug) keeps pformat.
    if hasattr(protocol, "pformat") and hasattr(protocol, "Timings"):
        from pprint import pformat

        protocol.Timings.__str__ = lambda self: pformat(self._timings)
        protocol.pformat = plain
