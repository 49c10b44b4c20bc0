"""The feed:<slug> topic over a real socket: who may follow it, live item events,
catching up with `since`, and feed.history."""

import pytest
from asgiref.sync import sync_to_async

from feeds import permissions, services
from feeds.models import Feed
from feeds.tasks import ingest_batch
from tests.feeds.conftest import make_event
from tests.ws import ProtocolErrorFrame, connect_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]
# A browser on this site with no session: an anonymous connection.
ANONYMOUS_ORIGIN = "http://localhost"


@sync_to_async
def upsert(slug, **fields):
    return services.item_upsert(feed=Feed.objects.get(slug=slug), data=make_event(feed=slug, **fields))


@sync_to_async
def ingest(events):
    batch = services.queue_events(source=None, events=events)
    return ingest_batch(batch.pk)


async def test_anyone_follows_a_public_feed_and_sees_items_live(feed):
    async with connect_ws(origin=ANONYMOUS_ORIGIN) as ws:
        assert (await ws.request("subscribe", "feed:news"))["seq"] == 0
        _, item = await upsert("news", id="live", title="Breaking")
        event = await ws.next_event()
        assert (event["topic"], event["event"], event["seq"]) == ("feed:news", "feed.item", 1)
        assert event["data"]["item"]["id"] == item.pk and event["data"]["item"]["title"] == "Breaking"
        assert await ingest([make_event(id=f"b{n}") for n in range(3)]) == "done"
        event = await ws.next_event()
        assert (event["event"], event["seq"]) == ("feed.items", 2)
        assert [i["external_id"] for i in event["data"]["items"]] == ["b0", "b1", "b2"]
        # An unchanged replay is not announced.
        await upsert("news", id="live", title="Breaking")
        assert await ws.expect_silence(0.5)


async def test_a_client_that_was_away_catches_up_with_since(feed, user):
    await upsert("news", id="one")
    async with connect_ws(user) as ws:
        assert (await ws.request("subscribe", "feed:news"))["seq"] == 1
    await upsert("news", id="two")
    await upsert("news", id="one", version=2, title="changed")
    async with connect_ws(user) as ws:
        reply = await ws.request("subscribe", "feed:news", {"since": 1})
        assert reply["recovered"] is True and reply["seq"] == 3
        missed = [ws.events.pop(0), ws.events.pop(0)]
        assert [(e["seq"], e["data"]["item"]["external_id"]) for e in missed] == [(2, "two"), (3, "one")]
        assert missed[1]["data"]["item"]["version"] == 2


async def test_private_feeds_are_not_found_except_for_staff_and_permission_holders(private_feed, user, staff):
    async with connect_ws(origin=ANONYMOUS_ORIGIN) as ws:
        with pytest.raises(ProtocolErrorFrame) as info:
            await ws.request("subscribe", "feed:ops")
        assert info.value.code == "not_found"
    async with connect_ws(user) as ws:
        with pytest.raises(ProtocolErrorFrame) as info:
            await ws.request("subscribe", "feed:ops")
        assert info.value.code == "not_found"
    async with connect_ws(staff) as ws:
        assert (await ws.request("subscribe", "feed:ops"))["seq"] == 0


async def test_unknown_feeds_are_not_found(db):
    async with connect_ws(origin=ANONYMOUS_ORIGIN) as ws:
        with pytest.raises(ProtocolErrorFrame) as info:
            await ws.request("feed.history", "feed:nope")
        assert info.value.code == "not_found"


def test_nobody_writes_to_a_feed_over_the_socket(feed, private_feed, staff, user):
    assert permissions.authorize_topic(user, "news", "read") is True
    assert permissions.authorize_topic(user, "news", "write") is False
    assert permissions.authorize_topic(staff, "ops", "write") is False


async def test_feed_history_pages_back_and_checks_its_data(feed):
    for n in range(4):
        await upsert("news", id=f"h{n}", occurred_at=f"2025-01-0{n + 1}T00:00:00Z")
    async with connect_ws(origin=ANONYMOUS_ORIGIN) as ws:
        page = await ws.request("feed.history", "feed:news", {"limit": 3})
        assert [i["external_id"] for i in page["items"]] == ["h3", "h2", "h1"] and page["has_more"]
        page = await ws.request("feed.history", "feed:news", {"before": page["items"][-1]["id"]})
        assert [i["external_id"] for i in page["items"]] == ["h0"] and not page["has_more"]
        with pytest.raises(ProtocolErrorFrame) as info:
            await ws.request("feed.history", "feed:news", {"limit": 500})
        assert (info.value.code, info.value.error["field"]) == ("invalid", "data.limit")
        with pytest.raises(ProtocolErrorFrame) as info:
            await ws.request("feed.history", "feed:news", {"before": "abc"})
        assert info.value.error["field"] == "data.before"


async def test_making_a_feed_private_revokes_anonymous_followers(feed):
    async with connect_ws(origin=ANONYMOUS_ORIGIN) as ws:
        await ws.request("subscribe", "feed:news")
        news = await sync_to_async(Feed.objects.get)(slug="news")
        await sync_to_async(services.feed_update)(feed=news, is_public=False)
        revoked = await ws.next_event()
        assert (revoked["event"], revoked["topic"]) == ("subscription.revoked", "feed:news")
        await upsert("news", id="secret", title="Not for you")
        assert await ws.expect_silence(0.4)
        with pytest.raises(ProtocolErrorFrame):
            await ws.request("subscribe", "feed:news")
