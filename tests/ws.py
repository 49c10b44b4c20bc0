"""A test client for the realtime protocol over channels' WebsocketCommunicator.

    async with connect_ws(user) as ws:
        reply = await ws.request("subscribe", "room:lobby")
        event = await ws.next_event()

It runs the real ASGI application (origin policy, auth, consumer, hub) against the real
Redis channel layer; only the transport is in-process.
"""

import asyncio
import contextlib
import itertools

import orjson
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

DEFAULT_TIMEOUT = 5.0


class ProtocolClient:
    def __init__(self, communicator):
        self.comm = communicator
        self.ids = itertools.count(1)
        self.events = []  # events received while waiting for replies

    async def close(self, code=1000):
        """Disconnects from the client side, as a closed tab does."""
        await self.comm.disconnect(code=code)

    async def send(self, frame):
        text = frame if isinstance(frame, str) else orjson.dumps(frame).decode()
        await self.comm.send_input({"type": "websocket.receive", "text": text})

    async def receive(self, timeout=DEFAULT_TIMEOUT):
        output = await self.comm.receive_output(timeout)
        if output["type"] == "websocket.close":
            raise ConnectionClosed(output.get("code"))
        return orjson.loads(output["text"])

    async def request(self, action, topic=None, data=None, *, timeout=DEFAULT_TIMEOUT, raw=False):
        """Sends a request; returns the reply's data, or raises ProtocolErrorFrame."""
        request_id = f"r{next(self.ids)}"
        frame = {"action": action, "request_id": request_id, "data": data or {}}
        if topic is not None:
            frame["topic"] = topic
        await self.send(frame)
        while True:
            message = await self.receive(timeout)
            if message.get("request_id") == request_id and message["type"] in ("reply", "error"):
                if raw:
                    return message
                if message["type"] == "error":
                    raise ProtocolErrorFrame(message["error"])
                return message["data"]
            self.events.append(message)

    async def next_event(self, timeout=DEFAULT_TIMEOUT):
        if self.events:
            return self.events.pop(0)
        message = await self.receive(timeout)
        return message

    async def expect_silence(self, timeout=0.3):
        """True when nothing arrives within `timeout` seconds."""
        if self.events:
            return False
        return await self.comm.receive_nothing(timeout)

    async def close_code(self, timeout=DEFAULT_TIMEOUT):
        """Waits for the server to close; returns the code (skips other frames)."""
        while True:
            output = await self.comm.receive_output(timeout)
            if output["type"] == "websocket.close":
                return output.get("code")


class ConnectionClosed(Exception):
    def __init__(self, code):
        super().__init__(f"closed with {code}")
        self.code = code


class ProtocolErrorFrame(Exception):
    def __init__(self, error):
        super().__init__(f"{error['code']}: {error['message']}")
        self.error = error
        self.code = error["code"]


@contextlib.asynccontextmanager
async def connect_ws(user=None, *, origin=None, ticket=None, session_cookie=None, expect_accept=True,
                     host=None, headers=()):
    """Connects to /ws/.  With a user (and no explicit ticket) a fresh ticket is used.
    `host` is the Host header; by default a browser's at its own origin (the Origin's
    host:port), none without an Origin.  `headers`: more (name, value) str pairs."""
    from project.asgi import application
    from realtime.auth import issue_ticket

    if user is not None and ticket is None and session_cookie is None:
        ticket = await sync_to_async(issue_ticket)(user)
    path = "/ws/" + (f"?ticket={ticket}" if ticket else "")
    extra, headers = headers, []
    if origin:
        headers.append((b"origin", origin.encode()))
        host = host if host is not None else origin.split("://", 1)[-1]
    if host:
        headers.append((b"host", host.encode()))
    headers += [(name.lower().encode(), value.encode()) for name, value in extra]
    if session_cookie:
        headers.append((b"cookie", f"sessionid={session_cookie}".encode()))
    comm = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await comm.connect(timeout=DEFAULT_TIMEOUT)
    client = ProtocolClient(comm)
    client.accepted, client.connect_code = connected, code
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            await comm.disconnect(timeout=2)
        await asyncio.sleep(0)
