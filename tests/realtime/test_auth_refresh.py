"""A socket's identity does not last forever: auth.refresh renews it in place (same socket,
subscriptions and seqs), another user's ticket is refused, and without a refresh the
socket gets auth.expired and close 4401 after REALTIME_AUTH_MAX_AGE."""

import time

import pytest
from asgiref.sync import sync_to_async
from rest_framework.test import APIClient

from realtime.publish import publish
from tests.ws import ProtocolErrorFrame, connect_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]


@sync_to_async
def fresh_ticket(user):
    """A ticket from the real REST endpoint, as a client would fetch it."""
    client = APIClient()
    client.force_authenticate(user)
    response = client.post("/api/auth/ticket/")
    assert response.status_code == 200
    body = response.json()
    assert 0 < body["auth_expires_in"] <= 3600
    return body["ticket"]


async def test_a_refresh_keeps_the_socket_its_subscriptions_and_seqs(user, open_kind):
    async with connect_ws(user) as ws:
        reply = await ws.request("subscribe", "open:room", {"since": 0})
        await sync_to_async(publish)("open:room", "notification", {"n": 1})
        first = await ws.next_event()
        assert (first["event"], first["seq"]) == ("notification", reply["seq"] + 1)

        refreshed = await ws.request("auth.refresh", data={"ticket": await fresh_ticket(user)})
        assert 3590 <= refreshed["auth_expires_in"] <= 3600

        await sync_to_async(publish)("open:room", "notification", {"n": 2})
        second = await ws.next_event()
        assert (second["seq"], second["data"]) == (first["seq"] + 1, {"n": 2})  # no replay
        assert await ws.expect_silence()
        assert (await ws.request("ping"))["auth_expires_in"] >= 3590


async def test_another_users_ticket_is_refused_and_changes_nothing(user, make_user):
    mallory = await sync_to_async(make_user)("mallory")
    async with connect_ws(user) as ws:
        await ws.request("subscribe", f"user:{user.pk}")
        with pytest.raises(ProtocolErrorFrame) as err:
            await ws.request("auth.refresh", data={"ticket": await fresh_ticket(mallory)})
        assert err.value.code == "forbidden"
        # Still alice: her own topic stays readable, mallory's is not.
        await ws.request("subscribe", f"user:{user.pk}")
        with pytest.raises(ProtocolErrorFrame) as err:
            await ws.request("subscribe", f"user:{mallory.pk}")
        assert err.value.code == "forbidden"


@pytest.mark.parametrize("ticket", [None, "", 42, "no-such-ticket"])
async def test_a_missing_or_unknown_ticket_is_a_clear_error(user, ticket):
    async with connect_ws(user) as ws:
        with pytest.raises(ProtocolErrorFrame) as err:
            await ws.request("auth.refresh", data={"ticket": ticket})
        assert err.value.code in ("invalid", "unauthenticated")
        assert "pong" in await ws.request("ping")


async def test_an_anonymous_socket_cannot_refresh(user):
    async with connect_ws(origin="http://localhost:8000") as ws:
        with pytest.raises(ProtocolErrorFrame) as err:
            await ws.request("auth.refresh", data={"ticket": await fresh_ticket(user)})
        assert err.value.code == "unauthenticated"
        assert "auth_expires_in" not in await ws.request("ping")


@pytest.fixture
def short_identity(settings):
    """A 1 s identity and a hub sweep every 0.2 s (read when this test's hub starts)."""
    settings.REALTIME_AUTH_MAX_AGE = 1
    settings.REALTIME_HEARTBEAT_INTERVAL = 0.2
    return 1


async def test_without_a_refresh_the_socket_gets_auth_expired_then_4401(user, short_identity):
    async with connect_ws(user) as ws:
        started = time.monotonic()
        assert (await ws.request("ping"))["auth_expires_in"] <= short_identity
        event = await ws.next_event(timeout=short_identity + 2)
        assert (event["event"], event["topic"]) == ("auth.expired", None)
        assert await ws.close_code(timeout=1) == 4401
        assert time.monotonic() - started >= short_identity - 0.1


async def test_refreshing_in_time_keeps_the_socket_past_its_first_expiry(user, short_identity, settings):
    async with connect_ws(user) as ws:
        await ws.request("subscribe", f"user:{user.pk}")
        settings.REALTIME_AUTH_MAX_AGE = 3600  # the refreshed identity lasts
        await ws.request("auth.refresh", data={"ticket": await fresh_ticket(user)})
        assert await ws.expect_silence(timeout=short_identity + 0.5)  # no auth.expired, no close
        assert "pong" in await ws.request("ping")
