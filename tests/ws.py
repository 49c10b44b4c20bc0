"""A test client for the realtime protocol over channels' WebsocketCommunicator.

    async with connect_ws(user) as ws:
        reply = await ws.request("subscribe", "room:lobby")
        event = await ws.next_event()

It runs the real ASGI application (origin policy, auth, consumer, hub) against the real
Redis channel layer; only the transport is in-process.  The protocol itself (framing,
request ids, reply matching, typed errors) is the client library's raw core
(switchboard_client.protocol.Connection, pull mode: frames read while waiting for a reply
are kept in `ws.events`); this module adds the in-process transport, which the library
cannot carry since it must not depend on channels.
"""

import asyncio
import contextlib

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from switchboard_client.errors import ServerError
from switchboard_client.protocol import Closed, Connection, ConnectionClosed

# Seconds any one call of a test waits (a request for its reply, a read, the handshake):
# in-process answers come in milliseconds; this only bounds a test that went wrong.
DEFAULT_TIMEOUT = 5.0
# An error frame the server sent; a timeout or a dropped socket is not one, so a test that
# expects a refusal cannot pass on silence.
ProtocolErrorFrame = ServerError

__all__ = ["DEFAULT_TIMEOUT", "CommunicatorTransport", "ConnectionClosed", "ProtocolClient",
           "ProtocolErrorFrame", "connect_ws"]


class CommunicatorTransport:
    """channels' WebsocketCommunicator as a switchboard_client Transport.  Unlike the
    communicator's receive_output(), a timeout (or a caller's deadline) leaves the
    application running, since a test may go on after `expect_silence`; an exception of the
    application is raised as soon as it happens, not at the end of a wait."""

    def __init__(self, comm):
        self.comm = comm
        self.closed = None

    async def send(self, text):
        if self.closed is not None:
            raise ConnectionClosed(self.closed.code)
        await self.comm.send_input({"type": "websocket.receive", "text": text})

    async def recv(self, timeout=None):
        if self.closed is not None:
            return self.closed
        output = await self._output(timeout)
        if output["type"] == "websocket.close":
            self.closed = Closed(output.get("code"), output.get("reason") or "")
            return self.closed
        if output.get("text") is None:
            return output.get("bytes", b"")
        return output["text"]

    async def _output(self, timeout):
        """The application's next output; its exception if it raised one instead."""
        queue, app = self.comm.output_queue, self.comm.future
        if queue.empty() and not app.done():
            getter = asyncio.ensure_future(queue.get())
            try:
                async with asyncio.timeout(timeout):
                    await asyncio.wait((getter, app), return_when=asyncio.FIRST_COMPLETED)
            except TimeoutError:
                # An item taken in the same turn as the timeout is returned, not dropped.
                if not getter.done() or getter.cancelled():
                    raise
            finally:
                # A queue.get() cancelled before it ran leaves its item in the queue.
                if not getter.done():
                    getter.cancel()
            if getter.done() and not getter.cancelled():
                return getter.result()
        if not queue.empty():
            return queue.get_nowait()
        if app.done():
            app.result()  # the application's exception, if it raised one
        # The application returned without a close: nothing more will come.
        async with asyncio.timeout(timeout):
            return await queue.get()

    async def close(self, code=1000):
        with contextlib.suppress(Exception):
            await self.comm.disconnect(code=code, timeout=2)


class ProtocolClient(Connection):
    """The raw protocol core over a communicator; every wait defaults to DEFAULT_TIMEOUT.
    `comm` is the communicator itself."""

    def __init__(self, communicator):
        super().__init__(CommunicatorTransport(communicator), timeout=DEFAULT_TIMEOUT)
        self.comm = communicator

    async def close_code(self, timeout=None):
        """Waits for the server to close; returns the code (skips other frames)."""
        return await self.wait_closed(timeout)


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
