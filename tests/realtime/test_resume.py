"""History and resume from the outbox: `subscribe` with `since`."""

import pytest
from asgiref.sync import sync_to_async

from realtime.publish import publish, publish_many
from tests.ws import connect_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]


@sync_to_async
def publish_n(topic, n, start=0):
    return publish_many([(topic, "notification", {"n": start + i}) for i in range(n)])


async def test_resume_delivers_exactly_the_missed_events_in_order_then_live_ones(user):
    topic = f"user:{user.pk}"
    async with connect_ws(user) as ws:
        await ws.request("subscribe", topic)
        await publish_n(topic, 3)
        seen = [(await ws.next_event())["seq"] for _ in range(3)]
        assert seen == [1, 2, 3]
    await publish_n(topic, 4, start=3)  # missed while away
    async with connect_ws(user) as ws:
        reply = await ws.request("subscribe", topic, {"since": 3})
        assert reply["recovered"] is True and reply["seq"] == 7
        replayed = ws.events[:]  # delivered before the reply
        assert [e["seq"] for e in replayed] == [4, 5, 6, 7]
        assert [e["data"]["n"] for e in replayed] == [3, 4, 5, 6]
        ws.events.clear()
        await sync_to_async(publish)(topic, "notification", {"n": 7})
        assert (await ws.next_event())["seq"] == 8
        assert await ws.expect_silence()


async def test_resume_from_the_latest_seq_replays_nothing(user):
    topic = f"user:{user.pk}"
    await publish_n(topic, 2)
    async with connect_ws(user) as ws:
        reply = await ws.request("subscribe", topic, {"since": 2})
        assert reply == {"seq": 2, "recovered": True, "presence": []}
        assert ws.events == [] and await ws.expect_silence()


async def test_a_plain_subscribe_reports_the_latest_seq_and_replays_nothing(user):
    topic = f"user:{user.pk}"
    await publish_n(topic, 5)
    async with connect_ws(user) as ws:
        reply = await ws.request("subscribe", topic)
        assert reply["seq"] == 5 and reply["recovered"] is False
        assert await ws.expect_silence()


async def test_outside_the_recovery_window_recovered_is_false(user, settings):
    topic = f"user:{user.pk}"
    settings.REALTIME_HISTORY_SIZE = 3
    await publish_n(topic, 6)
    from realtime.store import prune_events

    await sync_to_async(prune_events)()
    async with connect_ws(user) as ws:
        reply = await ws.request("subscribe", topic, {"since": 1})
        assert reply["recovered"] is False and reply["seq"] == 6
        assert ws.events == []
        # Within what is left, recovery still works.
        reply = await ws.request("subscribe", topic, {"since": 4})
        assert reply["recovered"] is True
        assert [e["seq"] for e in ws.events] == [5, 6]


async def test_a_since_from_the_future_is_not_recovered(user):
    async with connect_ws(user) as ws:
        reply = await ws.request("subscribe", f"user:{user.pk}", {"since": 50})
        assert reply["recovered"] is False and reply["seq"] == 0


async def test_events_published_during_subscribe_are_neither_lost_nor_repeated(user):
    """Live events racing the replay are buffered and deduplicated by seq."""
    topic = f"user:{user.pk}"
    await publish_n(topic, 50)
    async with connect_ws(user) as ws:
        await ws.send({"action": "subscribe", "request_id": "s", "topic": topic, "data": {"since": 0}})
        await publish_n(topic, 50, start=50)
        seqs, replies = [], 0
        while len(seqs) < 100 or not replies:
            message = await ws.receive()
            if message["type"] == "event":
                seqs.append(message["seq"])
            else:
                replies += 1
        assert seqs == list(range(1, 101)) and replies == 1
        assert await ws.expect_silence(0.5)


async def test_prune_keeps_the_window_per_topic(user, settings):
    from realtime.models import Event
    from realtime.store import prune_events

    settings.REALTIME_HISTORY_SIZE = 10
    await publish_n(f"user:{user.pk}", 25)
    deleted = await sync_to_async(prune_events)()
    assert deleted == 15
    seqs = await sync_to_async(lambda: list(Event.objects.values_list("seq", flat=True)))()
    assert seqs == list(range(16, 26))
