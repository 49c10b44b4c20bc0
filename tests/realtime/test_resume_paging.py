"""A resume is replayed page by page (REALTIME_RESUME_PAGE_BYTES), keeping its guarantees:
events first, in order, gap-free, then the reply, then live events; live events arriving
meanwhile are bounded (REALTIME_SUBSCRIBE_BUFFER_BYTES) and past that the subscribe says
`recovered: false` at the current seq, with live events gap-free from there."""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from realtime.publish import publish, publish_many
from tests.ws import connect_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]


@sync_to_async
def publish_n(topic, n, start=0, pad=0):
    return publish_many([(topic, "notification", {"n": start + i, "pad": "x" * pad}) for i in range(n)])


async def test_a_resume_of_many_pages_delivers_every_event_in_order_then_the_reply_then_live(user, settings):
    settings.REALTIME_RESUME_PAGE_BYTES = 1000  # ~5 events a page
    topic = f"user:{user.pk}"
    await publish_n(topic, 60, pad=100)
    async with connect_ws(user) as ws:
        reply = await ws.request("subscribe", topic, {"since": 0})
        assert (reply["recovered"], reply["seq"]) == (True, 60)
        assert [e["seq"] for e in ws.events] == list(range(1, 61))
        ws.events.clear()
        await sync_to_async(publish)(topic, "notification", {"n": 60})
        assert (await ws.next_event())["seq"] == 61


async def test_live_events_outgrowing_the_buffer_during_a_resume_answer_recovered_false_then_follow(
        user, settings):
    settings.REALTIME_RESUME_PAGE_BYTES = 1  # one event a page: a long replay
    settings.REALTIME_SUBSCRIBE_BUFFER_BYTES = 4000
    topic = f"user:{user.pk}"
    await publish_n(topic, 300)
    async with connect_ws(user) as ws:
        await ws.send({"action": "subscribe", "request_id": "s", "topic": topic, "data": {"since": 0}})
        published = 300
        replied = asyncio.ensure_future(ws.request("ping"))  # answered after the subscribe
        while not replied.done() and published < 400:
            await publish_n(topic, 1, start=published, pad=2000)  # live, while it replays
            published += 1
        await replied
        frames = ws.events[:]
        reply = next(f for f in frames if f.get("request_id") == "s")
        before = [f["seq"] for f in frames[:frames.index(reply)] if f["type"] == "event"]
        after = [f["seq"] for f in frames[frames.index(reply) + 1:] if f["type"] == "event"]
        assert reply["data"]["recovered"] is False
        assert before == list(range(1, len(before) + 1))  # a gap-free prefix, then given up
        latest = reply["data"]["seq"]
        assert latest > 300
        assert after == list(range(latest + 1, latest + 1 + len(after)))
        ws.events.clear()
        await publish_n(topic, 1, start=published)
        while True:
            event = await ws.next_event()
            if event["seq"] == published + 1:
                break
            assert event["seq"] > latest
