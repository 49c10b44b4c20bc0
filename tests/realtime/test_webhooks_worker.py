"""Webhooks delivered by a real Celery worker process (prefork, the test's broker and
database) to a real receiver, and a worker kill -9'd while a receiver holds its request:
nothing is lost, the only duplicate is the in-flight event with the same id, and the
topic's order holds (first arrivals in publish order)."""

import json
import threading
import time

import pytest
from django.utils import timezone

from chat import services as chat
from realtime.webhooks import delivery
from realtime.webhooks.models import Delivery
from tests.feeds import conftest as feeds_fixtures
from tests.realtime import webhook_receiver as webhook_fixtures
from tests.realtime.webhook_receiver import register, verify

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]
receiver = webhook_fixtures.receiver  # the real HTTP receiver fixture
room = webhook_fixtures.room
celery_worker = feeds_fixtures.celery_worker  # celery_worker(**env) -> a started Worker
WORKER_ENV = {"WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "1"}


def wait_until(condition, timeout=30, what="condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)




def test_a_worker_delivers_each_message_signed_in_order(receiver, celery_worker, staff, room):
    rx = receiver()
    endpoint, secret = register(staff, rx.url, ["chat.message"])
    celery_worker(**WORKER_ENV)
    for n in range(5):
        chat.message_create(room=room, author=staff, body=f"m{n}")
    requests = rx.wait_for(5)
    assert [b["data"]["message"]["body"] for b in rx.bodies()] == [f"m{n}" for n in range(5)]
    assert all(verify(secret, headers, body) for _, headers, body in requests)
    wait_until(lambda: Delivery.objects.filter(status=Delivery.DELIVERED).count() == 5,
               what="deliveries recorded")


@pytest.mark.faults
def test_a_worker_killed_mid_delivery_loses_nothing_and_repeats_only_that_event_id(
        receiver, celery_worker, staff, room):
    rx = receiver()
    held = rx.hold = threading.Event()  # the receiver keeps the first request open
    endpoint, secret = register(staff, rx.url, ["chat.message"])
    worker = celery_worker(**WORKER_ENV)
    for n in range(4):
        chat.message_create(room=room, author=staff, body=f"m{n}")
    rx.wait_for(1)  # the worker is inside its first HTTP request
    killed = worker.kill_child()
    assert killed
    rx.hold = None
    held.set()  # the dead worker's request completes at the receiver: it counts as received
    # The redelivered task finds the head leased by the dead worker; once the lease ran out
    # (here: moved into the past rather than waited for), the sweep restarts the queue.
    wait_until(lambda: worker.alive and len(worker.children()) >= 1, what="a new pool process")
    assert Delivery.objects.filter(status=Delivery.DELIVERED).count() == 0
    Delivery.objects.filter(lease_until__isnull=False).update(lease_until=timezone.now())
    delivery.sweep()
    requests = rx.wait_for(5, timeout=60)
    bodies = [json.loads(body) for _, _, body in requests]
    ids = [b["id"] for b in bodies]
    assert len(set(ids)) == 4 and ids[0] == ids[1]  # one duplicate: the in-flight event
    first_seen = [b["data"]["message"]["body"] for n, b in enumerate(bodies) if b["id"] not in ids[:n]]
    assert first_seen == ["m0", "m1", "m2", "m3"]
    assert all(verify(secret, headers, body) for _, headers, body in requests)
    wait_until(lambda: Delivery.objects.filter(status=Delivery.DELIVERED).count() == 4,
               what="every delivery recorded")
