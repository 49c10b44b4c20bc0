"""Frames, built-in actions, errors and limits through the real consumer and Redis layer."""

import asyncio
import logging

import pytest
from asgiref.sync import sync_to_async

from realtime import registry
from realtime.publish import publish
from tests.ws import ConnectionClosed, ProtocolErrorFrame, connect_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]


@pytest.fixture
def temp_action():
    """Registers actions for one test and removes them afterwards."""
    added = []

    def add(name, handler, **options):
        registry.register_action(name, handler, **options)
        added.append(name)

    yield add
    for name in added:
        registry.actions.pop(name, None)


async def test_ping_replies_with_server_time(user):
    async with connect_ws(user) as ws:
        reply = await ws.request("ping")
        assert isinstance(reply["pong"], int) and reply["pong"] > 1_600_000_000_000


async def test_every_request_with_an_id_gets_exactly_one_answer(user):
    async with connect_ws(user) as ws:
        for i in range(5):
            await ws.send({"action": "ping", "request_id": f"p{i}"})
        await ws.send({"action": "nope", "request_id": "bad"})
        answers = [await ws.receive() for _ in range(6)]
        assert [a["request_id"] for a in answers] == ["p0", "p1", "p2", "p3", "p4", "bad"]
        assert answers[-1]["type"] == "error" and answers[-1]["error"]["code"] == "unknown_action"
        assert await ws.expect_silence()


@pytest.mark.parametrize("frame, code", [
    ("not json", "bad_request"),
    ("[1, 2]", "bad_request"),
    ('"text"', "bad_request"),
    ('{"action": 5}', "invalid"),
    ('{"request_id": "x"}', "invalid"),
    ('{"action": "ping", "request_id": {"a": 1}}', "invalid"),
    ('{"action": "ping", "request_id": "x", "data": [1]}', "invalid"),
    ('{"action": "subscribe", "request_id": "x", "topic": "nokind"}', "invalid"),
    ('{"action": "subscribe", "request_id": "x", "topic": "galaxy:far"}', "unknown_topic"),
    ('{"action": "subscribe", "request_id": "x", "topic": "user:ME", "data": {"since": -1}}', "invalid"),
    ('{"action": "unsubscribe", "request_id": "x", "topic": "user:999999"}', "forbidden"),
])
async def test_bad_frames_get_an_error_and_the_connection_stays_open(user, frame, code):
    async with connect_ws(user) as ws:
        await ws.send(frame.replace("user:ME", f"user:{user.pk}"))
        error = await ws.receive()
        assert error["type"] == "error" and error["error"]["code"] == code, error
        assert set(error["error"]) >= {"code", "message"}
        assert "pong" in await ws.request("ping")


async def test_invalid_errors_name_the_field(user):
    async with connect_ws(user) as ws:
        with pytest.raises(ProtocolErrorFrame) as err:
            await ws.request("subscribe", f"user:{user.pk}", {"since": "yesterday"})
        assert err.value.error["field"] == "data.since"


async def test_binary_frames_are_refused_with_bad_request(user):
    async with connect_ws(user) as ws:
        await ws.comm.send_to(bytes_data=b"\x00\x01")
        error = await ws.receive()
        assert error["error"]["code"] == "bad_request"
        assert "pong" in await ws.request("ping")


async def test_a_frame_over_the_size_limit_closes_1009(user, settings):
    settings.REALTIME_MAX_FRAME_BYTES = 1024
    async with connect_ws(user) as ws:
        await ws.send('{"action": "ping", "data": {"x": "' + "y" * 2000 + '"}}')
        assert await ws.close_code() == 1009


async def test_a_frame_at_the_size_limit_is_accepted(user, settings):
    settings.REALTIME_MAX_FRAME_BYTES = 1024
    async with connect_ws(user) as ws:
        base = '{"action": "ping", "request_id": "big", "data": {"x": ""}}'
        frame = base.replace('""', '"' + "y" * (1024 - len(base)) + '"')
        assert len(frame) == 1024
        await ws.send(frame)
        assert (await ws.receive())["type"] == "reply"


async def test_anonymous_connections_may_not_call_write_actions(temp_action):
    def handler(request):
        return {"ok": True}

    temp_action("test.write", handler)
    async with connect_ws(origin="http://localhost") as ws:
        with pytest.raises(ProtocolErrorFrame) as err:
            await ws.request("test.write")
        assert err.value.code == "unauthenticated"


async def test_an_unexpected_exception_is_answered_internal_and_logged(user, temp_action, caplog):
    def boom(request):
        raise RuntimeError("kaboom")

    temp_action("test.boom", boom)
    async with connect_ws(user) as ws:
        await ws.request("subscribe", f"user:{user.pk}")
        with caplog.at_level(logging.ERROR, logger="realtime.errors"):
            reply = await ws.request("test.boom", raw=True)
        assert reply == {"type": "error", "request_id": reply["request_id"],
                         "error": {"code": "internal", "message": "Internal error."}}
        assert any("kaboom" in (r.exc_text or "") or r.exc_info for r in caplog.records)
        # The connection and its subscriptions survive.
        assert "pong" in await ws.request("ping")
        await sync_to_async(publish)(f"user:{user.pk}", "notification", {"still": "here"})
        assert (await ws.next_event())["data"] == {"still": "here"}


async def test_requires_subscription_actions_answer_not_subscribed(user, temp_action):
    async def handler(request):
        return {}

    temp_action("test.ephemeral", handler, topic_kinds=("user",), access="read",
                requires_subscription=True)
    async with connect_ws(user) as ws:
        with pytest.raises(ProtocolErrorFrame) as err:
            await ws.request("test.ephemeral", f"user:{user.pk}")
        assert err.value.code == "not_subscribed"
        await ws.request("subscribe", f"user:{user.pk}")
        assert await ws.request("test.ephemeral", f"user:{user.pk}") == {}


async def test_rate_limit_answers_rate_limited_with_retry_after(user, settings):
    settings.REALTIME_RATE_BURST = 5
    settings.REALTIME_RATE_PER_SECOND = 1
    async with connect_ws(user) as ws:
        for i in range(8):
            await ws.send({"action": "ping", "request_id": i})
        answers = [await ws.receive() for _ in range(8)]
        codes = [a["error"]["code"] if a["type"] == "error" else "ok" for a in answers]
        assert codes[:5] == ["ok"] * 5
        assert "rate_limited" in codes[5:]
        limited = next(a for a in answers if a["type"] == "error")
        assert 0 < limited["error"]["retry_after"] <= 1


async def test_a_client_still_flooding_after_the_grace_period_is_closed_4429(user, settings):
    settings.REALTIME_RATE_BURST = 2
    settings.REALTIME_RATE_PER_SECOND = 1
    settings.REALTIME_FLOOD_CLOSE_AFTER = 0.3
    async with connect_ws(user) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            for i in range(200):
                await ws.send({"action": "ping", "request_id": i})
                await asyncio.sleep(0.01)
                while not await ws.comm.receive_nothing(0.001):
                    await ws.receive()
        assert closed.value.code == 4429


async def test_too_many_subscriptions(user, settings, open_kind):
    settings.REALTIME_MAX_SUBSCRIPTIONS = 2
    async with connect_ws(user) as ws:
        await ws.request("subscribe", "open:a")
        await ws.request("subscribe", "open:b")
        await ws.request("subscribe", "open:b")  # resubscribing is not a new one
        with pytest.raises(ProtocolErrorFrame) as err:
            await ws.request("subscribe", "open:c")
        assert err.value.code == "too_many_subscriptions"
        await ws.request("unsubscribe", "open:a")
        await ws.request("subscribe", "open:c")


async def test_idle_connections_are_closed_4408(user, settings):
    settings.REALTIME_IDLE_TIMEOUT = 1.0
    async with connect_ws(user) as ws:
        assert await ws.close_code(timeout=5) == 4408


async def test_unsubscribe_stops_events_and_twice_is_not_subscribed(user):
    topic = f"user:{user.pk}"
    async with connect_ws(user) as ws:
        await ws.request("subscribe", topic)
        assert await ws.request("unsubscribe", topic) == {}
        await sync_to_async(publish)(topic, "notification", {"n": 1})
        assert await ws.expect_silence(0.5)
        with pytest.raises(ProtocolErrorFrame) as err:
            await ws.request("unsubscribe", topic)
        assert err.value.code == "not_subscribed"




async def test_a_kicked_user_loses_the_subscription_and_must_be_authorized_again(user, open_kind):
    from realtime.control import kick

    async with connect_ws(user) as ws:
        await ws.request("subscribe", "open:x")
        await sync_to_async(kick)(user.pk, "open:x")
        event = await ws.next_event()
        assert (event["event"], event["topic"], event["seq"]) == ("subscription.revoked", "open:x", None)
        await sync_to_async(publish)("open:x", "notification", {})
        assert await ws.expect_silence(0.4)
        await ws.request("subscribe", "open:x")  # authorized afresh (the hook says yes here)


async def test_reauthorize_revokes_subscribers_the_rules_no_longer_allow(make_user):
    """A topic's rules change (e.g. made private): readers no longer allowed lose it."""
    from realtime import registry
    from realtime.control import reauthorize

    allowed = {"alice"}
    registry.register_topic_kind("gated", authorize=lambda user, key, access: user.username in allowed,
                                 anonymous_read=False)
    try:
        alice = await sync_to_async(make_user)("alice")
        bob = await sync_to_async(make_user)("bob")
        allowed.add("bob")
        async with connect_ws(alice) as a, connect_ws(bob) as b:
            await a.request("subscribe", "gated:x")
            await b.request("subscribe", "gated:x")
            allowed.discard("bob")
            await sync_to_async(reauthorize)("gated:x")
            revoked = await b.next_event()
            assert (revoked["event"], revoked["topic"]) == ("subscription.revoked", "gated:x")
            await sync_to_async(publish)("gated:x", "notification", {"for": "alice"})
            assert (await a.next_event())["data"] == {"for": "alice"}
            assert await b.expect_silence(0.4)
    finally:
        registry.topic_kinds.pop("gated", None)


async def test_a_burst_beyond_the_send_queue_limit_reaches_a_reading_client_whole(user, settings):
    """publish_many's 500-event layer messages land in one loop turn: a queue over the limit
    for a moment is a burst, not a slow client (closed only if it stays full, see
    test_slow_client.py)."""
    from realtime.publish import publish_many

    settings.REALTIME_SEND_QUEUE_BYTES = 10_000  # 300 frames of ~90 bytes: over it for a moment
    topic = f"user:{user.pk}"
    async with connect_ws(user) as ws:
        await ws.request("subscribe", topic)
        await sync_to_async(publish_many)([(topic, "notification", {"n": n}) for n in range(300)])
        got = [(await ws.next_event())["data"]["n"] for _ in range(300)]
        assert got == list(range(300))
        assert "pong" in await ws.request("ping")  # still open
