"""A protocol client over real sockets for tests against real server processes
(tests/servers.py starts them and re-exports these names):

    async with await connect_client(server, user) as client:
        await client.subscribe("room:lobby")
        event = await client.next_event()

The protocol is the client library's raw core (switchboard_client.protocol.Connection in
reader mode, over its websockets transport): no reconnect, no pings.  Replies settle their
requests, so several may be in flight; every other frame is queued for next_event().
"""

import asyncio
import time

from switchboard_client import errors
from switchboard_client.protocol import Connection, WebsocketsTransport

# Seconds a request or a wait for an event may take against a real (possibly busy) server.
DEFAULT_TIMEOUT = 10.0
# Largest frame accepted: a replayed history or a feed batch may be several MiB.
MAX_FRAME_BYTES = 2**22


# An error frame raised by request(): the client library's typed error (`.code`, `.error`).
# An error frame the server sent (not a client-side timeout or drop): see tests/ws.py.
ProtocolError = errors.ServerError


class Client:
    """One real WebSocket speaking the protocol: request() -> reply data (or raises
    ProtocolError); events are queued for next_event()/collect().  `closed` is set with
    the close code when the server (or the network) ends the socket.

    The protocol is the client library's raw core (switchboard_client.protocol.Connection
    in reader mode, over its websockets transport): no reconnect, no pings."""

    def __init__(self, ws):
        self.ws = ws
        self.conn = Connection(WebsocketsTransport(ws))
        self.events = asyncio.Queue()
        self.closed = self.conn.closed
        self.reader = self.conn.start_reader(self.events.put_nowait)

    @property
    def close_code(self):
        return self.conn.closed_with

    async def request(self, action, topic=None, data=None, timeout=DEFAULT_TIMEOUT):
        return await self.conn.request(action, topic, data, timeout=timeout)

    async def subscribe(self, topic, since=None, timeout=DEFAULT_TIMEOUT):
        return await self.request("subscribe", topic, {} if since is None else {"since": since},
                                  timeout=timeout)

    async def next_event(self, timeout=DEFAULT_TIMEOUT):
        return await asyncio.wait_for(self.events.get(), timeout)

    async def collect(self, until, timeout=DEFAULT_TIMEOUT):
        """Events until `until(event)` is true for one (included) or the timeout passes."""
        got, deadline = [], time.monotonic() + timeout
        while True:
            try:
                event = await self.next_event(max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                return got
            got.append(event)
            if until(event):
                return got

    async def silent(self, seconds=0.5):
        """True when no event arrives within `seconds` (nothing is consumed)."""
        await asyncio.sleep(seconds)
        return self.events.empty()

    async def close(self):
        await self.conn.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()


async def connect_client(server, user, *, ticket=None, timeout=DEFAULT_TIMEOUT):
    """Connects to server's /ws/ with a fresh ticket for user (realtime.auth.issue_ticket,
    which writes to the Redis this test process uses: it must be the server's too)."""
    from asgiref.sync import sync_to_async
    from websockets.asyncio.client import connect

    from realtime.auth import issue_ticket

    if ticket is None:
        ticket = await sync_to_async(issue_ticket, thread_sensitive=False)(user)
    ws = await connect(f"{server.ws_url}?ticket={ticket}", open_timeout=timeout,
                       max_size=MAX_FRAME_BYTES, max_queue=None)
    return Client(ws)
