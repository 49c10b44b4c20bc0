"""Per client address: at most REALTIME_MAX_CONNECTIONS_PER_IP open sockets (fewer when
anonymous) and REALTIME_HANDSHAKES_PER_IP handshakes per window, counted in Redis across
processes; over them the handshake is refused with close 4429 before any Connection row is
written.  The address is realtime.client_address's: the X-Forwarded-For entry the trusted
hop wrote (TRUSTED_PROXY_COUNT=1), or the socket peer when no hop is trusted.

Real daphne processes, real sockets (the `websockets` library)."""

import asyncio
import contextlib
import time

import pytest
import websockets
from asgiref.sync import sync_to_async

from realtime.auth import issue_ticket
from realtime.models import Connection

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

CAPS = {"REALTIME_MAX_CONNECTIONS_PER_IP": "3", "REALTIME_MAX_ANONYMOUS_CONNECTIONS_PER_IP": "2",
        "REALTIME_HANDSHAKES_PER_IP": "1000"}


async def open_socket(server, forwarded=None, ticket=None):
    """A socket to the server, anonymous (a page of the site) unless a ticket is given;
    returns (websocket, None) when accepted and answering, (None, close code) when refused."""
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    url = server.ws_url + (f"?ticket={ticket}" if ticket else "")
    ws = await websockets.connect(url, origin=None if ticket else server.url,
                                  additional_headers=headers, open_timeout=10)
    try:
        await ws.send('{"action": "ping", "request_id": 1}')
        await asyncio.wait_for(ws.recv(), 10)
    except websockets.ConnectionClosed:
        return None, ws.close_code
    return ws, None


async def connection_rows(address, expected):
    """The Connection rows written for `address` once `expected` have appeared (the log is
    flushed every 0.2 s), or whatever is there after 5 s."""
    deadline = time.monotonic() + 5
    while True:
        count = await sync_to_async(Connection.objects.filter(client_address=address).count)()
        if count >= expected or time.monotonic() > deadline:
            return count
        await asyncio.sleep(0.1)


async def test_sockets_over_the_per_address_caps_are_refused_at_the_handshake_and_addresses_count_apart(
        daphne, make_user):
    (server,) = daphne(TRUSTED_PROXY_COUNT="1", **CAPS)
    user = await sync_to_async(make_user)("capped")
    async with contextlib.AsyncExitStack() as stack:
        first = []
        for _ in range(2):
            ws, code = await open_socket(server, "198.51.100.1")
            assert code is None
            stack.push_async_callback(ws.close)
            first.append(ws)
        # A third anonymous socket from that address is one too many: refused, 4429.
        assert await open_socket(server, "198.51.100.1") == (None, 4429)
        # Another address is counted apart.
        for _ in range(2):
            ws, code = await open_socket(server, "198.51.100.2")
            assert code is None
            stack.push_async_callback(ws.close)
        # Signed in, the address has room for one more (3 in all), then none.
        ticket = await sync_to_async(issue_ticket)(user)
        ws, code = await open_socket(server, "198.51.100.1", ticket=ticket)
        assert code is None
        stack.push_async_callback(ws.close)
        ticket = await sync_to_async(issue_ticket)(user)
        assert await open_socket(server, "198.51.100.1", ticket=ticket) == (None, 4429)
        # Claims left of the trusted hop's entry are the client's own: ignored.
        assert await open_socket(server, "203.0.113.9, 198.51.100.1") == (None, 4429)
        # No Connection row was written for a refused socket.
        assert await connection_rows("198.51.100.1", 3) == 3
        assert await connection_rows("198.51.100.2", 2) == 2
        # A socket that goes frees its place.
        await first[0].close()
        deadline = time.monotonic() + 5
        while (await open_socket(server, "198.51.100.1"))[1] == 4429:
            assert time.monotonic() < deadline, "the closed socket's place was not freed"
            await asyncio.sleep(0.1)


async def test_a_forged_header_from_an_untrusted_hop_counts_as_the_hops_own_address(daphne):
    (server,) = daphne(TRUSTED_PROXY_COUNT="0", **CAPS)
    async with contextlib.AsyncExitStack() as stack:
        for n in range(2):
            ws, code = await open_socket(server, f"198.51.100.{10 + n}")
            assert code is None
            stack.push_async_callback(ws.close)
        # A fresh forged address per socket does not help: they all come from 127.0.0.1.
        assert await open_socket(server, "198.51.100.99") == (None, 4429)
    assert await connection_rows("127.0.0.1", 2) == 2


async def test_handshakes_over_the_per_address_rate_are_refused(daphne):
    (server,) = daphne(TRUSTED_PROXY_COUNT="1", REALTIME_HANDSHAKES_PER_IP="4",
                       REALTIME_HANDSHAKE_WINDOW_SECONDS="60")
    if time.time() % 60 > 50:  # fixed windows: start well inside one
        await asyncio.sleep(61 - time.time() % 60)
    codes = []
    for _ in range(6):
        ws, code = await open_socket(server, "198.51.100.7")
        codes.append(code)
        if ws is not None:
            await ws.close()
    assert codes == [None] * 4 + [4429] * 2
