"""A real Celery worker (prefork, a separate process) on the test database and Redis:
a posted batch reaches a subscribed socket, and a worker killed mid-batch (its pool child,
or the whole worker) leaves every item applied exactly once, at its newest version, with
every change delivered to subscribers."""

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from rest_framework.authtoken.models import Token

from feeds import services
from feeds.models import FeedItem, IngestBatch
from tests.feeds.conftest import make_event
from tests.servers import connect_client, database_url, start_daphne
from tests.ws import connect_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup"),
              pytest.mark.timeout(90)]

# Worker settings for the kill tests: small chunks with a pause between them, so a batch
# takes a few seconds and the kill lands mid-batch; a 5 s visibility timeout so the
# broker hands an abandoned task to the next worker quickly.
SLOW_WORKER = {"FEEDS_INGEST_CHUNK": "100", "FEEDS_INGEST_CHUNK_PAUSE": "0.15",
               "CELERY_VISIBILITY_TIMEOUT": "5"}
ITEMS = 600  # each created (version 1) then updated (version 2): 1,200 events, 12 chunks


def items_of(event):
    if event.get("event") == "feed.item":
        return [event["data"]["item"]]
    if event.get("event") == "feed.items":
        return event["data"]["items"]
    return []


async def receive_until(next_event, want, timeout=40.0):
    """Events until every external id in `want` was seen at (at least) its version."""
    events, seen = [], {}
    deadline = time.monotonic() + timeout
    while any(seen.get(ext, -1) < version for ext, version in want.items()):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            missing = sum(seen.get(e, -1) < v for e, v in want.items())
            raise AssertionError(f"{missing} items never arrived at their version")
        event = await next_event(timeout=remaining)
        events.append(event)
        for item in items_of(event):
            seen[item["external_id"]] = max(seen.get(item["external_id"], -1), item["version"])
    return events


@sync_to_async
def batch_state(batch_id):
    return IngestBatch.objects.defer("payload").get(pk=batch_id)


async def wait_for(predicate, batch_id, timeout=40.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = await batch_state(batch_id)
        if predicate(batch):
            return batch
        await asyncio.sleep(0.02)
    raise AssertionError(f"batch {batch_id} never got there: {batch.status} at {batch.next_index}")


@sync_to_async
def queue_two_versions(count):
    events = [make_event(id=f"k{n}", version=1, title="v1") for n in range(count)]
    events += [make_event(id=f"k{n}", version=2, title="v2") for n in range(count)]
    return services.queue_events(source=None, events=events).pk


@sync_to_async
def stored_items():
    return list(FeedItem.objects.values_list("external_id", "version", "title"))


def check_exactly_once(events, stored, count):
    """Each item stored once at version 2; each of its two changes published exactly once
    (a chunk killed before commit published nothing), in gap-free seq order."""
    assert sorted(stored) == sorted((f"k{n}", 2, "v2") for n in range(count))
    seqs = [e["seq"] for e in events if e.get("type") == "event"]
    assert seqs == list(range(1, len(seqs) + 1))
    changes = sorted((i["external_id"], i["version"]) for e in events for i in items_of(e))
    assert changes == sorted([(f"k{n}", 1) for n in range(count)] + [(f"k{n}", 2) for n in range(count)])


async def test_a_posted_batch_goes_through_a_real_worker_to_a_subscribed_socket(
        celery_worker, feed, ingester, user):
    token = (await sync_to_async(Token.objects.create)(user=ingester)).key
    worker = await asyncio.to_thread(celery_worker, wait=False)  # starts while daphne does
    server = await asyncio.to_thread(start_daphne, env={"DATABASE_URL": database_url()})
    try:
        await asyncio.to_thread(worker.wait_ready)
        async with await connect_client(server, user) as client:
            assert (await client.subscribe("feed:news"))["seq"] == 0
            events = [make_event(id=f"e{n}", title=f"item {n}") for n in range(1200)]
            status, body = await asyncio.to_thread(server.post, "/api/events/", {"events": events}, token)
            assert status == 202 and body["accepted"] == 1200
            received = await receive_until(client.next_event, {f"e{n}": 1 for n in range(1200)})
            assert [e["event"] for e in received] == ["feed.items"] * 3  # 500 + 500 + 200
            assert received[0]["data"]["items"][0]["title"] == "item 0"
            batch = await wait_for(lambda b: b.status == "done", body["batch"])
            assert (batch.created, batch.updated, batch.unchanged, batch.rejected) == (1200, 0, 0, 0)
            # The same batch again: nothing new is stored or announced.
            status, again = await asyncio.to_thread(server.post, "/api/events/", {"events": events}, token)
            batch = await wait_for(lambda b: b.status == "done", again["batch"])
            assert (batch.created, batch.unchanged) == (0, 1200)
            assert await client.silent(0.5)
        assert "succeeded" in worker.log()
    finally:
        server.stop()


@pytest.mark.faults  # a worker killed mid-batch: with the long tests (make test-faults, run by CI)
async def test_killing_the_workers_pool_child_mid_batch_loses_and_repeats_nothing(
        celery_worker, feed, user, settings):
    settings.REALTIME_OUTBOX_POLL_INTERVAL = 0.5
    worker = await asyncio.to_thread(celery_worker, **SLOW_WORKER)
    async with connect_ws(user) as ws:
        await ws.request("subscribe", "feed:news")
        batch_id = await queue_two_versions(ITEMS)
        mid = await wait_for(lambda b: b.next_index >= 300, batch_id)
        killed = worker.kill_child()
        assert mid.next_index < 2 * ITEMS and (await batch_state(batch_id)).status == "running"
        # The worker's main process gives the task back (reject_on_worker_lost) and its
        # new pool child resumes after the last committed chunk.
        done = await wait_for(lambda b: b.status == "done", batch_id)
        events = await receive_until(ws.next_event, {f"k{n}": 2 for n in range(ITEMS)})
        assert await ws.expect_silence(1.0)
    assert done.attempts == 2 and done.created == ITEMS and done.updated == ITEMS
    check_exactly_once(events, await stored_items(), ITEMS)
    assert all(pid not in [c.pid for c in worker.children()] for pid in killed)


@pytest.mark.faults  # a worker killed mid-batch: with the long tests (make test-faults, run by CI)
async def test_killing_the_whole_worker_mid_batch_another_worker_finishes_it(
        celery_worker, feed, user, settings):
    settings.REALTIME_OUTBOX_POLL_INTERVAL = 0.5
    first = await asyncio.to_thread(celery_worker, **SLOW_WORKER)
    async with connect_ws(user) as ws:
        await ws.request("subscribe", "feed:news")
        batch_id = await queue_two_versions(ITEMS)
        started = time.monotonic()
        await wait_for(lambda b: b.next_index >= 300, batch_id)
        await asyncio.to_thread(first.kill9)  # main process and pool child: nobody acks
        stuck = await batch_state(batch_id)
        assert stuck.status == "running" and stuck.next_index < 2 * ITEMS
        # The Redis broker redelivers an unacknowledged task once it is older than the
        # visibility timeout; a worker restores such tasks when it starts polling.
        await asyncio.sleep(max(0.0, 5.5 - (time.monotonic() - started)))
        await asyncio.to_thread(celery_worker, **SLOW_WORKER)
        done = await wait_for(lambda b: b.status == "done", batch_id, timeout=60)
        events = await receive_until(ws.next_event, {f"k{n}": 2 for n in range(ITEMS)})
        assert await ws.expect_silence(1.0)
    assert done.attempts == 2 and (done.created, done.updated) == (ITEMS, ITEMS)
    check_exactly_once(events, await stored_items(), ITEMS)
