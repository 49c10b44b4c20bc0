"""The library's raw protocol core (switchboard_client.protocol) over its websockets
transport against a real daphne: what tests/ws.py and tests/servers.py rely on."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from switchboard_client import Forbidden, UnknownAction
from switchboard_client.protocol import Connection, ConnectionClosed, WebsocketsTransport
from websockets.asyncio.client import connect

from realtime.auth import issue_ticket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(90)]


async def open_connection(server, user):
    ticket = await sync_to_async(issue_ticket, thread_sensitive=False)(user)
    return Connection(WebsocketsTransport(await connect(f"{server.ws_url}?ticket={ticket}")))


async def test_raw_mode_returns_error_frames_raises_typed_errors_and_keeps_other_frames(site, user):
    server = await sync_to_async(site.start, thread_sensitive=False)()
    conn = await open_connection(server, user)
    await conn.send("{not json")
    error = await conn.receive()
    assert error["type"] == "error" and error["error"]["code"] == "bad_request", error
    frame = await conn.request("no.such.action", raw=True)
    assert frame["type"] == "error" and frame["error"]["code"] == "unknown_action"
    with pytest.raises(UnknownAction) as raised:
        await conn.request("no.such.action")
    assert raised.value.error["code"] == "unknown_action"
    with pytest.raises(Forbidden):
        await conn.request("subscribe", f"user:{user.pk + 1000}")
    assert "pong" in await conn.request("ping")
    assert await conn.expect_silence(0.3)
    await conn.close()
    with pytest.raises(ConnectionClosed) as closed:
        await conn.receive(5)
    assert closed.value.code == 1000


async def test_reader_mode_matches_concurrent_replies_by_request_id(site, user):
    server = await sync_to_async(site.start, thread_sensitive=False)()
    conn = await open_connection(server, user)
    others = []
    conn.start_reader(others.append)
    replies = await asyncio.gather(*(conn.request("ping", data={"n": n}, raw=True) for n in range(20)))
    assert [reply["request_id"] for reply in replies] == [f"r{n}" for n in range(1, 21)]
    assert all(reply["type"] == "reply" for reply in replies)
    await conn.close()
    await asyncio.wait_for(conn.closed.wait(), 5)
    assert conn.closed_with == 1000
    with pytest.raises(ConnectionClosed):
        await conn.request("ping", timeout=5)
