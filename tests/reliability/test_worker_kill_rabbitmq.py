"""A Celery worker kill -9'd in the middle of a 5,000-event ingest batch (2,500 items, each
created then updated), with a second worker already waiting: RabbitMQ hands the
unacknowledged task to it at once (the dead worker's channel closed); the Redis broker
only after the visibility timeout.  Either way every item exists once at its newest
version and a subscribed socket got every change exactly once, in order.

Workers consume a queue of their own on the machine's RabbitMQ (other runs share it) and
the task is sent there explicitly.  The measured redelivery delays are printed and
recorded in docs/reliability.md.
"""

import asyncio
import os
import re
import sys
import time
import uuid

import pytest
from asgiref.sync import sync_to_async

from feeds import services
from tests.feeds import conftest as feeds_fixtures
from tests.feeds.conftest import Worker, make_event
from tests.feeds.test_worker import batch_state, check_exactly_once, receive_until, stored_items, wait_for
from tests.servers import database_url, server_env
from tests.ws import connect_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup"),
              pytest.mark.timeout(240)]

feed = feeds_fixtures.feed  # the feeds tests' `feed` fixture (feed:news)
RABBITMQ_URL = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
ITEMS = 2500  # x 2 versions = 5,000 events, in 50 chunks of 100
WORKER_ENV = {"FEEDS_INGEST_CHUNK": "100", "FEEDS_INGEST_CHUNK_PAUSE": "0.05"}
# RabbitMQ redelivers when the dead worker's connection closes: well under a second.
RABBITMQ_REDELIVERY_BOUND = 5.0
# Redis broker: visibility timeout (seconds) for the measurement run.
REDIS_VISIBILITY_TIMEOUT = 10


def rabbitmq_reachable():
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 5672), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def workers(transactional_db, settings):
    """workers(broker_url, queue, **env) -> a started Worker consuming only `queue`."""
    started = []

    def start(broker_url, queue, **env):
        full = {"DATABASE_URL": database_url(), "REDIS_URL": settings.REDIS_URL,
                "CELERY_BROKER_URL": broker_url, **WORKER_ENV, **env}
        name = f"rel-{os.getpid()}-{len(started)}"
        worker = Worker([sys.executable, "-m", "celery", "-A", "project", "worker", "-P", "prefork",
                         "-c", "1", "--without-mingle", "--without-gossip", "-l", "info", "-Q", queue,
                         "-n", f"{name}@%h"], server_env(full), name)
        started.append(worker)
        return worker.wait_ready()

    yield start
    for worker in started:
        log = worker.log()
        worker.stop()
        print(f"--- {worker.name} log (shown when the test failed) ---\n{log[-4000:]}")


@sync_to_async
def queue_batch_on(broker_url, queue, monkeypatch):
    """Stores the 5,000-event batch and sends its task to `queue` on `broker_url` only."""
    from feeds.tasks import ingest_batch
    from project.celery import app

    monkeypatch.setattr(services, "_enqueue", lambda batch_id: None)
    events = [make_event(id=f"k{n}", version=1, title="v1") for n in range(ITEMS)]
    events += [make_event(id=f"k{n}", version=2, title="v2") for n in range(ITEMS)]
    batch_id = services.queue_events(source=None, events=events).pk
    with app.connection_for_write(broker_url) as connection:
        ingest_batch.apply_async((batch_id,), connection=connection, queue=queue)
    return batch_id


RECEIVED = re.compile(r"ingest_batch\[[0-9a-f-]+\] received")  # not the banner's task list


def holder_of(task_workers):
    """The worker that received the batch's task (its log says so at INFO)."""
    holders = [w for w in task_workers if RECEIVED.search(w.log())]
    assert len(holders) == 1, f"{len(holders)} workers received the batch"
    return holders[0]


async def kill_mid_batch_and_measure(workers, broker_url, monkeypatch, user, kill, **env):
    """Starts two workers on a queue of their own, queues the batch, kills the one that took
    it (kill(worker)) once it is mid-batch, and returns the seconds until the other, idle
    and ready all along, took the batch over.  Both start before the batch is queued: a
    standby started mid-batch took longer to start on a loaded machine than the rest of the
    batch took to finish, and there was nothing left to take over."""
    queue = f"rel-{uuid.uuid4().hex[:8]}"
    pair = [await asyncio.to_thread(workers, broker_url, queue, **env) for _ in range(2)]
    async with connect_ws(user) as ws:
        await ws.request("subscribe", "feed:news")
        batch_id = await queue_batch_on(broker_url, queue, monkeypatch)
        await wait_for(lambda b: b.next_index >= 1500, batch_id, timeout=60)
        await asyncio.to_thread(kill, holder_of(pair))
        killed_at = time.monotonic()
        stuck = await batch_state(batch_id)
        assert stuck.status == "running" and stuck.next_index < 2 * ITEMS
        await wait_for(lambda b: b.attempts == 2, batch_id, timeout=180)
        redelivered_after = time.monotonic() - killed_at
        done = await wait_for(lambda b: b.status == "done", batch_id, timeout=60)
        events = await receive_until(ws.next_event, {f"k{n}": 2 for n in range(ITEMS)}, timeout=60)
        assert await ws.expect_silence(1.0)
    assert done.attempts == 2 and (done.created, done.updated) == (ITEMS, ITEMS)
    check_exactly_once(events, await stored_items(), ITEMS)
    return redelivered_after


pytestmark.append(pytest.mark.skipif(not rabbitmq_reachable(), reason="no RabbitMQ on 127.0.0.1:5672"))


# Both kills run with the long tests (make test-faults, run by CI): each case takes ~15-25 s,
# and `make test` stays under ten minutes.  The Redis broker's are in tests/feeds/test_worker.py.
@pytest.mark.faults
@pytest.mark.parametrize("kill", ["whole_worker", "pool_child"])
async def test_rabbitmq_hands_a_killed_workers_batch_to_the_standby_at_once(
        workers, feed, user, settings, monkeypatch, kill):
    settings.REALTIME_OUTBOX_POLL_INTERVAL = 0.5
    kill_fn = Worker.kill9 if kill == "whole_worker" else Worker.kill_child
    delay = await kill_mid_batch_and_measure(workers, RABBITMQ_URL, monkeypatch, user, kill_fn)
    print(f"RabbitMQ, {kill} killed: batch taken over after {delay:.2f} s")
    assert delay < RABBITMQ_REDELIVERY_BOUND


@pytest.mark.faults
async def test_redis_broker_hands_a_killed_workers_batch_over_after_the_visibility_timeout(
        workers, feed, user, settings, monkeypatch):
    from project.env import celery_url

    settings.REALTIME_OUTBOX_POLL_INTERVAL = 0.5
    delay = await kill_mid_batch_and_measure(
        workers, celery_url(settings.REDIS_URL), monkeypatch, user, Worker.kill9,
        CELERY_VISIBILITY_TIMEOUT=str(REDIS_VISIBILITY_TIMEOUT))
    print(f"Redis broker (visibility timeout {REDIS_VISIBILITY_TIMEOUT} s), whole worker killed: "
          f"batch taken over after {delay:.2f} s")
    assert delay >= REDIS_VISIBILITY_TIMEOUT * 0.5
