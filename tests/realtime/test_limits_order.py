"""Limits before work: each frame passes size, parse, rate limit, and only then
authentication, authorization and the handler (realtime/consumer.py), so a flood costs no
database or Redis work; anonymous sockets get the tighter bucket."""

import pytest

from realtime import registry
from tests.ws import ConnectionClosed, connect_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]

ORIGIN = "http://testserver"  # an anonymous browser page of this site


@pytest.fixture
def counted_kind():
    """A topic kind `counted:<key>` anyone may ask to read, whose authorize hook (where a
    real kind queries the database) records each call and refuses."""
    calls = []

    def authorize(user, key, access):
        calls.append(key)
        return False

    registry.register_topic_kind("counted", authorize=authorize, anonymous_read=True)
    yield calls
    registry.topic_kinds.pop("counted", None)


async def answers_until_closed(ws):
    """Every answer the server sends, and the close code that ends them."""
    answers = []
    try:
        while True:
            answers.append(await ws.receive(timeout=10))
    except ConnectionClosed as closed:
        return answers, closed.code


async def test_a_burst_of_1000_anonymous_frames_reaches_authorization_at_most_burst_times_then_4429(
        settings, counted_kind):
    async with connect_ws(origin=ORIGIN) as ws:
        assert ws.accepted
        for i in range(1000):
            await ws.send({"action": "subscribe", "request_id": i, "topic": f"counted:nope-{i}"})
        answers, code = await answers_until_closed(ws)
    burst = settings.REALTIME_ANONYMOUS_RATE_BURST
    codes = [answer["error"]["code"] for answer in answers]
    # At most the burst (plus what refilled meanwhile) reached the authorize hook...
    assert 0 < len(counted_kind) <= burst + 2
    assert codes[:len(counted_kind)] == ["forbidden"] * len(counted_kind)
    # ...the rest were refused before it, and the flood was closed.
    assert set(codes[len(counted_kind):]) == {"rate_limited"}
    assert len(codes) - len(counted_kind) <= settings.REALTIME_FLOOD_CLOSE_FRAMES + 1
    assert code == 4429


async def test_a_malformed_frame_over_the_rate_is_told_what_is_wrong_with_it(settings, counted_kind):
    """Parse comes before the rate limit: the answer names the first check it fails."""
    settings.REALTIME_ANONYMOUS_RATE_BURST = 2
    settings.REALTIME_ANONYMOUS_RATE_PER_SECOND = 0.1
    async with connect_ws(origin=ORIGIN) as ws:
        for i in range(3):
            await ws.send({"action": "ping", "request_id": i})
        assert [(await ws.receive())["type"] for _ in range(3)] == ["reply", "reply", "error"]
        await ws.send("not json")
        assert (await ws.receive())["error"]["code"] == "bad_request"
        await ws.send({"action": "subscribe", "request_id": "s", "topic": "counted:x"})
        assert (await ws.receive())["error"]["code"] == "rate_limited"
    assert counted_kind == []  # refused before authorization


async def test_anonymous_sockets_get_a_tighter_rate_than_signed_in_ones(settings, user):
    settings.REALTIME_RATE_BURST = 30
    settings.REALTIME_ANONYMOUS_RATE_BURST = 10
    settings.REALTIME_RATE_PER_SECOND = settings.REALTIME_ANONYMOUS_RATE_PER_SECOND = 0.1
    for ws_args, allowed in (({"origin": ORIGIN}, 10), ({"user": user}, 30)):
        async with connect_ws(**ws_args) as ws:
            for i in range(30):
                await ws.send({"action": "ping", "request_id": i})
            types = [(await ws.receive())["type"] for _ in range(30)]
            assert types == ["reply"] * allowed + ["error"] * (30 - allowed), ws_args
