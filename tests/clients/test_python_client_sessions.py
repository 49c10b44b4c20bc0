"""The Python client library against real daphne processes, what a socket's session goes
through: 4401 (a bad ticket, a logout, an expired identity) gets a new ticket, 4503 resumes
at once and 4429 backs off, the identity is renewed in place, and pings keep an idle socket."""

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from switchboard_client import Client

from realtime.control import close_user_connections
from tests.clients.helpers import FAST, publish_async, take, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(90)]

# The client's wait after a 4429 in these tests: well apart from FAST's backoff (0.1 s).
FLOOD = 1.0
# The server's identity lifetime and the client's renewal lead in the renewal test: a
# renewal every 1.5 s, the first expiry 3 s after the connect.
MAX_AGE = 3
REFRESH_MARGIN = 1.5
# The server's idle limit in the ping test (its sweep runs every 0.5 s at this value).
IDLE_TIMEOUT = 1.0


async def test_a_4401_close_gets_a_new_ticket_and_reconnects(site, token, user):
    server = site.start()
    tickets = []

    def get_ticket():  # the first ticket is bogus: the server accepts, then closes 4401
        status, body = server.post("/api/auth/ticket/", {}, token)
        assert status == 200, body
        tickets.append(body["ticket"] if tickets else "bogus")
        return tickets[-1]

    states = []
    async with Client(server.url, get_ticket=get_ticket, on_state=lambda s, i: states.append((s, i)),
                      **FAST) as client:
        await wait_until(lambda: client.connects == 2 and client.state == "connected")
        assert client.close_code == 4401 and len(tickets) == 2
        sub = client.subscribe("open:auth")
        await sub.ready()
        # The server ends the session (a logout): a new ticket at once, and resume.
        await sync_to_async(close_user_connections)(user.id)
        await publish_async("open:auth", {"n": 1})
        await wait_until(lambda: client.connects == 3 and client.state == "connected")
        assert client.close_code == 4401 and len(tickets) == 3
        assert [(e.seq, e.data) for e in await take(sub, 1)] == [(1, {"n": 1})]
        retries = [info["retry_in"] for state, info in states if state == "reconnecting" and info]
        assert retries == [0.0, 0.0]  # no backoff for a first 4401


async def test_4503_resumes_at_once_and_4429_backs_off_for_the_flood_backoff(site, token, user):
    server = site.start()
    states = []
    async with Client(server.url, token=token, flood_backoff=FLOOD, on_state=lambda s, i: states.append(
            (s, i)), **FAST) as client:
        sub = client.subscribe("open:codes")
        await sub.ready()
        await sync_to_async(close_user_connections)(user.id, 4503)
        await publish_async("open:codes", {"n": 1})
        await wait_until(lambda: client.connects == 2 and client.state == "connected")
        assert [e.seq for e in await take(sub, 1)] == [1]
        closed_at = time.monotonic()
        await sync_to_async(close_user_connections)(user.id, 4429)
        await wait_until(lambda: client.connects == 3 and client.state == "connected")
        assert time.monotonic() - closed_at >= FLOOD
        codes = [(info["close_code"], info["retry_in"]) for s, info in states if s == "reconnecting" and info]
        assert [code for code, _ in codes] == [4503, 4429]
        assert codes[0][1] <= FAST["backoff_base"] and codes[1][1] >= FLOOD


async def test_the_identity_is_renewed_in_place_before_it_expires(site, token):
    server = site.start(REALTIME_AUTH_MAX_AGE=str(MAX_AGE))
    async with Client(server.url, token=token, refresh_margin=REFRESH_MARGIN) as client:
        sub = client.subscribe("open:renew")
        await sub.ready()
        first_expiry = time.monotonic() + MAX_AGE
        # Renewed every REFRESH_MARGIN s; wait past the first expiry and the heartbeat sweep
        # (1 s, conftest FAST_TIMERS) after it, which would have closed an expired socket.
        await wait_until(lambda: client.refreshes >= 3 and time.monotonic() > first_expiry + 1)
        assert (client.connects, client.state, client.close_code) == (1, "connected", None)
        assert 0 < client.auth_expires_in <= MAX_AGE
        await publish_async("open:renew", {"n": 1})
        assert [e.seq for e in await take(sub, 1)] == [1]


async def test_an_expired_identity_reconnects_with_a_new_ticket_and_resumes(site, token):
    server = site.start(REALTIME_AUTH_MAX_AGE="2")
    async with Client(server.url, token=token, auth_refresh=False, **FAST) as client:
        sub = client.subscribe("open:expiry")
        await sub.ready()
        await publish_async("open:expiry", {"n": 1})
        await wait_until(lambda: client.connects >= 2 and client.state == "connected")
        assert client.close_code == 4401 and client.refreshes == 0
        await publish_async("open:expiry", {"n": 2})
        assert [(e.seq, e.data["n"]) for e in await take(sub, 2)] == [(1, 1), (2, 2)]


async def test_pings_keep_an_idle_connection_open(site, token):
    server = site.start(REALTIME_IDLE_TIMEOUT=str(IDLE_TIMEOUT))
    async with Client(server.url, token=token, ping_interval=IDLE_TIMEOUT / 5) as client:
        dropped = asyncio.Event()
        client.on_state = lambda state, info: dropped.set()  # any change: the socket went
        # Over twice the idle timeout with nothing but pings; a close ends the wait at once.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(dropped.wait(), 2.5 * IDLE_TIMEOUT)
        assert (client.connects, client.state) == (1, "connected")
