"""Where webhook events come from besides publish(): presence changes announced by a hub
(presence.joined / presence.left, and on rooms the debounced room.occupied / room.vacated)
and ingest batches finishing or failing (feed.batch.done / feed.batch.failed), all sent
to a real receiver in the order they happened on their topic."""

import time

import pytest
from asgiref.sync import sync_to_async

from chat import selectors
from chat import services as chat
from feeds import services as feeds
from feeds.models import Feed, IngestBatch
from realtime.webhooks.models import WebhookEvent
from realtime.webhooks.tasks import check_occupancy
from tests.feeds.conftest import make_event
from tests.realtime import webhook_receiver as webhook_fixtures
from tests.realtime.webhook_receiver import register, run_all, verify
from tests.ws import connect_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]
receiver = webhook_fixtures.receiver  # the real HTTP receiver fixture

EVENTS = ["presence.joined", "presence.left", "room.occupied", "room.vacated"]


async def wait_for_event(event_type, count=1, timeout=10):
    """Polls (with a deadline) until `count` webhook events of that type were queued."""
    deadline = time.monotonic() + timeout
    count_of = sync_to_async(lambda: WebhookEvent.objects.filter(type=event_type).count())
    while await count_of() < count:
        assert time.monotonic() < deadline, f"no {event_type} queued in {timeout} s"
        await sync_to_async(time.sleep)(0.05)


async def test_a_room_joined_and_left_gives_presence_and_occupancy_events_in_order(make_user, receiver):
    owner = await sync_to_async(make_user)("owner", is_staff=True)
    alice = await sync_to_async(make_user)("alice")
    await sync_to_async(chat.room_create)(creator=owner, slug="lobby", name="Lobby")
    rx = receiver()
    endpoint, secret = await sync_to_async(register)(owner, rx.url, EVENTS)
    occupancy = sync_to_async(check_occupancy)  # the debounced task's body, run here
    assert await occupancy("room:lobby") is None  # empty and never announced: nothing
    async with connect_ws(alice) as ws:
        await ws.request("subscribe", "room:lobby")
        await wait_for_event("presence.joined")
        assert await occupancy("room:lobby") == "room.occupied"
        assert await occupancy("room:lobby") is None  # still occupied: no new event
    await wait_for_event("presence.left")
    assert await occupancy("room:lobby") == "room.vacated"
    await sync_to_async(run_all)(endpoint)
    requests = rx.wait_for(4)
    bodies = rx.bodies()
    assert [b["type"] for b in bodies] == ["presence.joined", "room.occupied", "presence.left",
                                           "room.vacated"]
    assert all(b["topic"] == "room:lobby" for b in bodies)
    assert [u["username"] for u in bodies[0]["data"]["users"]] == ["alice"]
    assert [u["username"] for u in bodies[1]["data"]["users"]] == ["alice"]
    assert [u["username"] for u in bodies[2]["data"]["users"]] == ["alice"]
    assert bodies[3]["data"] == {"users": []}
    assert all(verify(secret, headers, body) for _, headers, body in requests)


async def test_presence_is_not_queued_for_endpoints_that_do_not_want_it(make_user, receiver):
    owner = await sync_to_async(make_user)("owner", is_staff=True)
    alice = await sync_to_async(make_user)("alice")
    await sync_to_async(chat.room_create)(creator=owner, slug="lobby", name="Lobby")
    rx = receiver()
    await sync_to_async(register)(owner, rx.url, ["chat.message"])
    async with connect_ws(alice) as ws:
        reply = await ws.request("subscribe", "room:lobby")
        assert [u["username"] for u in reply["presence"]] == ["alice"]
        room = await sync_to_async(selectors.get_room)(slug="lobby", user=alice)
        await sync_to_async(chat.message_create)(room=room, author=alice, body="hi")
    assert await sync_to_async(lambda: list(WebhookEvent.objects.values_list("type", flat=True)))() == [
        "chat.message"]


def test_an_ingest_batch_done_or_failed_is_sent_with_the_batch_api_shape(receiver, staff):
    Feed.objects.create(slug="news", title="News", is_public=True)
    rx = receiver()
    endpoint, secret = register(staff, rx.url, ["feed.batch.done", "feed.batch.failed"])
    done = feeds.queue_events(source=staff, events=[make_event(id="a"), make_event(id="b")])
    assert feeds.run_batch(done.pk) == IngestBatch.DONE
    failed = feeds.queue_events(source=staff, events=[make_event(id="c")])
    feeds.mark_batch_failed(failed.pk, "OperationalError: the database went away")
    run_all(endpoint)
    requests = rx.wait_for(2)
    bodies = rx.bodies()
    assert [(b["type"], b["data"]["batch"], b["data"]["status"]) for b in bodies] == [
        ("feed.batch.done", done.pk, "done"), ("feed.batch.failed", failed.pk, "failed")]
    assert bodies[0]["topic"] is None and bodies[0]["data"]["counts"]["created"] == 2
    assert bodies[1]["data"]["errors"][-1]["message"].startswith("OperationalError")
    assert all(verify(secret, headers, body) for _, headers, body in requests)
