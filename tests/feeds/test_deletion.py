"""Deleted feed data stays deleted: a deleted item is a bare tombstone (id, external_id,
version, deleted) live, on resume and over REST, its old events replay the tombstone, and
a deleted feed leaves no history to a new feed of the same slug."""

import orjson
import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from feeds import services
from feeds.models import Feed, FeedItem
from feeds.tasks import ingest_batch
from realtime.models import Event, TopicCounter
from tests.feeds.conftest import make_event
from tests.ws import connect_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]
ANONYMOUS_ORIGIN = "http://localhost"
SECRET = "quarterly numbers, unreleased"
TOMBSTONE_KEYS = {"id", "external_id", "version", "deleted"}


@sync_to_async
def upsert(**fields):
    return services.item_upsert(feed=Feed.objects.get(slug="news"), data=make_event(**fields))


@sync_to_async
def ingest(events):
    batch = services.queue_events(source=None, events=events)
    return ingest_batch(batch.pk)


@sync_to_async
def delete_item(external_id):
    item = FeedItem.objects.select_related("feed").get(external_id=external_id)
    return services.item_delete(item=item)


def stored_text(topic):
    return orjson.dumps(list(Event.objects.filter(topic=topic).values_list("data", flat=True))).decode()


async def replay(ws, topic, since):
    ws.events.clear()
    reply = await ws.request("subscribe", topic, {"since": since})
    frames = [f for f in ws.events if f["type"] == "event" and f["seq"] is not None]
    ws.events.clear()
    return reply, frames


async def test_a_deleted_item_is_a_bare_tombstone_live_on_resume_and_over_rest(feed):
    async with connect_ws(origin=ANONYMOUS_ORIGIN) as ws:
        before = (await ws.request("subscribe", "feed:news"))["seq"]
        await upsert(id="gone", title=SECRET, body=SECRET, url="https://example.com/secret")
        await upsert(id="kept", title="Public news")
        await ingest([make_event(id="gone", title=SECRET, version=2),
                      make_event(id="other", title="Other news")])
        item = await delete_item("gone")
        live = [await ws.next_event() for _ in range(4)][-1]
        tombstone = {"id": item.pk, "external_id": "gone", "version": 3, "deleted": True}
        assert live["event"] == "feed.item" and live["data"] == {"item": tombstone}
    async with connect_ws(origin=ANONYMOUS_ORIGIN) as ws:
        reply, frames = await replay(ws, "feed:news", before)
        assert reply["recovered"] is True
        assert [f["seq"] for f in frames] == list(range(before + 1, before + 5))
        assert [f["event"] for f in frames] == ["feed.item", "feed.item", "feed.items", "feed.item"]
        assert frames[0]["data"]["item"] == {**tombstone, "version": 1}
        assert frames[1]["data"]["item"]["title"] == "Public news"
        batch_items = frames[2]["data"]["items"]
        assert batch_items[0] == {**tombstone, "version": 2}
        assert batch_items[1]["title"] == "Other news" and batch_items[1]["deleted"] is False
        assert frames[3]["data"]["item"] == tombstone
        assert SECRET not in orjson.dumps(frames).decode()
    assert SECRET not in await sync_to_async(stored_text)("feed:news")

    def rest():
        client = Client()
        synced = client.get("/api/feeds/news/items/", {"updated_after": "2000-01-01T00:00:00Z"}).json()
        listed = client.get("/api/feeds/news/items/").json()
        return synced, listed, FeedItem.objects.get(external_id="gone")

    synced, listed, row = await sync_to_async(rest)()
    assert [i for i in synced["results"] if i["external_id"] == "gone"] == [tombstone]
    assert "gone" not in [i["external_id"] for i in listed["results"]]
    assert (row.title, row.body, row.url, row.data, row.kind) == ("", "", "", {}, "")


async def test_an_ingested_delete_is_the_same_tombstone(feed):
    await upsert(id="x", title=SECRET)
    async with connect_ws(origin=ANONYMOUS_ORIGIN) as ws:
        before = (await ws.request("subscribe", "feed:news"))["seq"]
        await ingest([make_event(id="x", title=SECRET, version=5, deleted=True)])
        event = await ws.next_event()
        assert set(event["data"]["item"]) == TOMBSTONE_KEYS
        assert event["data"]["item"]["version"] == 5 and event["data"]["item"]["deleted"] is True
        _, frames = await replay(ws, "feed:news", before - 1)
        assert [set(f["data"]["item"]) for f in frames] == [TOMBSTONE_KEYS, TOMBSTONE_KEYS]
    assert SECRET not in await sync_to_async(stored_text)("feed:news")


def _admin_bulk_delete(staff, slugs):
    staff.is_superuser = True  # the admin's model permissions
    staff.save()
    client = Client()
    client.force_login(staff)
    ids = [str(pk) for pk in Feed.objects.filter(slug__in=slugs).values_list("pk", flat=True)]
    response = client.post("/admin/feeds/feed/", {"action": "delete_selected",
                                                  "_selected_action": ids, "post": "yes"})
    assert response.status_code == 302, response.content[:500]
    assert not Feed.objects.filter(slug__in=slugs).exists()


async def test_a_feed_deleted_in_the_admin_leaves_no_history_to_its_successor(feed, staff):
    for n in range(3):
        await upsert(id=f"i{n}", title=SECRET)
    async with connect_ws(origin=ANONYMOUS_ORIGIN) as ws:
        old = (await ws.request("subscribe", "feed:news"))["seq"]
    assert old > 0
    await sync_to_async(_admin_bulk_delete)(staff, ["news"])
    assert not await sync_to_async(Event.objects.filter(topic="feed:news").exists)()
    assert (await sync_to_async(TopicCounter.objects.get)(topic="feed:news")).seq > old
    await sync_to_async(services.feed_create)(slug="news", title="Other news")
    async with connect_ws(origin=ANONYMOUS_ORIGIN) as ws:
        reply, frames = await replay(ws, "feed:news", old)
        assert reply["recovered"] is False and frames == [] and reply["seq"] > old
        history = await ws.request("feed.history", "feed:news", {})
        assert history["items"] == []
        for n in range(4):
            await upsert(id=f"new{n}", title="fresh")
    async with connect_ws(origin=ANONYMOUS_ORIGIN) as ws:
        reply, frames = await replay(ws, "feed:news", old)
        assert reply["recovered"] is False and frames == []
    assert SECRET not in await sync_to_async(stored_text)("feed:news")
