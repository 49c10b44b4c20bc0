"""Webhooks out against a real HTTP receiver (tests/realtime/webhook_receiver.py: a stdlib
http.server in a thread on a loopback port): signed bodies checked with hmac + hashlib,
retries after 500s and while the receiver is down, ordering per endpoint and topic,
giving up and disabling after a day of failures (created_at / failing_since in the past
stand in for a clock), and publishing with no endpoint costing no query."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from chat import services as chat
from realtime.webhooks import delivery, endpoints, hook
from realtime.webhooks.models import Attempt, Delivery, WebhookEndpoint, WebhookEvent
from tests.realtime import webhook_receiver as webhook_fixtures
from tests.realtime.webhook_receiver import make_due, register, run_all, verify
from whiteboard import services as board

pytestmark = pytest.mark.django_db(transaction=True)

receiver = webhook_fixtures.receiver  # the real HTTP receiver fixture
room = webhook_fixtures.room


def test_a_chat_message_is_posted_signed_with_the_socket_event_shape(receiver, staff, room):
    rx = receiver()
    endpoint, secret = register(staff, rx.url, ["chat.message", "chat.edited", "chat.deleted"])
    message = chat.message_create(room=room, author=staff, body="hello")
    chat.message_edit(message=message, editor=staff, body="hello again")
    chat.message_delete(message=message, actor=staff)
    run_all(endpoint)
    requests = rx.wait_for(3)
    for _, headers, body in requests:
        assert verify(secret, headers, body)
        assert headers["Content-Type"] == "application/json"
    bodies = rx.bodies()
    assert [b["type"] for b in bodies] == ["chat.message", "chat.edited", "chat.deleted"]
    assert {b["topic"] for b in bodies} == {"room:lobby"}
    assert bodies[0]["data"]["message"]["body"] == "hello"
    assert bodies[1]["data"]["message"]["body"] == "hello again"
    assert bodies[0]["data"]["message"]["id"] == message.pk
    assert len({b["id"] for b in bodies}) == 3
    assert requests[0][1]["Switchboard-Event-Id"] == bodies[0]["id"]
    assert set(bodies[0]) == {"id", "type", "created_at", "topic", "data"}
    assert Delivery.objects.filter(endpoint=endpoint, status=Delivery.DELIVERED).count() == 3


def test_a_tampered_body_or_another_secret_does_not_verify(receiver, staff, room):
    rx = receiver()
    endpoint, secret = register(staff, rx.url, ["chat.message"])
    chat.message_create(room=room, author=staff, body="signed")
    run_all(endpoint)
    _, headers, body = rx.wait_for(1)[0]
    assert verify(secret, headers, body)
    assert not verify(secret, headers, body.replace(b"signed", b"forged"))
    assert not verify("whsec_other", headers, body)


def test_500s_are_retried_with_backoff_until_the_receiver_accepts(receiver, staff, room):
    rx = receiver(statuses=[500, 503])
    endpoint, secret = register(staff, rx.url, ["chat.message"])
    chat.message_create(room=room, author=staff, body="persist")
    run_all(endpoint)
    queued = Delivery.objects.get()
    assert queued.status == Delivery.PENDING and queued.attempts == 1
    first_wait = (queued.next_attempt_at - timezone.now()).total_seconds()
    assert 5 < first_wait <= 11  # WEBHOOKS_RETRY_BASE (10 s) with jitter
    run_all(endpoint)  # not due yet: nothing is sent
    assert len(rx.requests) == 1
    make_due()
    run_all(endpoint)
    queued.refresh_from_db()
    second_wait = (queued.next_attempt_at - timezone.now()).total_seconds()
    assert second_wait > first_wait  # doubling
    make_due()
    run_all(endpoint)
    requests = rx.wait_for(3)
    assert len({json.loads(body)["id"] for _, _, body in requests}) == 1  # the same event id
    assert all(verify(secret, headers, body) for _, headers, body in requests)
    queued.refresh_from_db()
    assert queued.status == Delivery.DELIVERED and queued.attempts == 3
    attempts = list(Attempt.objects.filter(delivery=queued).order_by("id"))
    assert [a.status_code for a in attempts] == [500, 503, 200]
    assert attempts[0].response_excerpt == "not now" and attempts[2].ok
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None  # cleared by the success


def test_a_receiver_that_is_down_is_retried_and_gets_the_event_once_it_is_up(receiver, staff, room):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint, secret = register(staff, f"http://127.0.0.1:{port}/hook", ["chat.message"])
    chat.message_create(room=room, author=staff, body="wait for me")
    run_all(endpoint)
    attempt = Attempt.objects.get()
    assert not attempt.ok and attempt.status_code is None and "Connect" in attempt.error
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None and endpoint.enabled
    rx = receiver()
    endpoints.update(endpoint, url=rx.url)
    make_due()
    run_all(endpoint)
    _, headers, body = rx.wait_for(1)[0]
    assert verify(secret, headers, body) and json.loads(body)["data"]["message"]["body"] == "wait for me"
    assert Delivery.objects.get().status == Delivery.DELIVERED


def test_a_failing_event_holds_back_its_topic_on_that_endpoint_only(receiver, staff, room, make_user):
    other_room = chat.room_create(creator=staff, slug="other", name="Other")
    rx = receiver(fail_topic="room:lobby")
    healthy = receiver()
    endpoint, _ = register(staff, rx.url, ["chat.message"])
    second, _ = register(staff, healthy.url, ["chat.message"])
    for body in ("one", "two", "three"):
        chat.message_create(room=room, author=staff, body=body)
    chat.message_create(room=other_room, author=staff, body="elsewhere")
    run_all(endpoint)
    run_all(second)
    # The first lobby event failed: its successors wait; the other topic went out.
    assert [(b["topic"], b["data"]["message"]["body"]) for b in rx.bodies()] in (
        [("room:lobby", "one"), ("room:other", "elsewhere")],
        [("room:other", "elsewhere"), ("room:lobby", "one")])
    assert [b["data"]["message"]["body"] for b in healthy.bodies() if b["topic"] == "room:lobby"] == [
        "one", "two", "three"]
    make_due()
    run_all(endpoint)
    lobby = [b["data"]["message"]["body"] for b in rx.bodies() if b["topic"] == "room:lobby"]
    assert lobby == ["one", "one", "two", "three"]


def test_a_topic_filter_and_the_event_list_choose_what_is_sent(receiver, staff, room):
    other_room = chat.room_create(creator=staff, slug="other", name="Other")
    rx = receiver()
    endpoint, _ = register(staff, rx.url, ["chat.message", "board.cleared"], topic_filter="*:other")
    chat.message_create(room=room, author=staff, body="not this")
    message = chat.message_create(room=other_room, author=staff, body="this")
    chat.message_edit(message=message, editor=staff, body="edited: not asked for")
    board.board_clear(room=other_room, user=staff)
    run_all(endpoint)
    rx.wait_for(2)
    assert sorted((b["type"], b["topic"]) for b in rx.bodies()) == [
        ("board.cleared", "board:other"), ("chat.message", "room:other")]


def test_a_delivery_failing_for_a_day_is_given_up_and_the_endpoint_disabled(receiver, staff, room):
    rx = receiver(statuses=[500] * 5)
    endpoint, _ = register(staff, rx.url, ["chat.message"])
    chat.message_create(room=room, author=staff, body="old")
    chat.message_create(room=room, author=staff, body="newer")
    day_ago = timezone.now() - timedelta(hours=24, minutes=1)
    first = Delivery.objects.order_by("id").first()
    Delivery.objects.filter(pk=first.pk).update(created_at=day_ago)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=day_ago)
    run_all(endpoint)
    first.refresh_from_db()
    assert first.status == Delivery.FAILED  # retried for 24 h: given up
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.disabled_at is not None
    assert "failed for 24 h" in endpoint.disabled_reason
    # Disabled: nothing more is sent, nothing new is queued for it.
    sent = len(rx.requests)
    make_due()
    run_all(endpoint)
    chat.message_create(room=room, author=staff, body="while disabled")
    assert len(rx.requests) == sent
    assert Delivery.objects.filter(endpoint=endpoint).count() == 2
    # Enabled again: the pending one goes out.
    rx.statuses.clear()
    endpoints.update(endpoint, enabled=True)
    make_due()
    run_all(endpoint)
    assert rx.bodies()[-1]["data"]["message"]["body"] == "newer"


def test_a_failure_within_the_day_does_not_disable(receiver, staff, room):
    rx = receiver(statuses=[500])
    endpoint, _ = register(staff, rx.url, ["chat.message"])
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - timedelta(hours=23))
    chat.message_create(room=room, author=staff, body="x")
    run_all(endpoint)
    endpoint.refresh_from_db()
    assert endpoint.enabled and Delivery.objects.get().status == Delivery.PENDING


def test_publishing_with_no_endpoint_writes_nothing_and_costs_no_query(staff, room,
                                                                     django_assert_num_queries):
    hook.invalidate()
    chat.message_create(room=room, author=staff, body="nobody listens")  # loads the list
    with django_assert_num_queries(0):
        assert not hook.wanted([("room:lobby", "chat.message", {"message": {}})])
        assert hook.emit("feed.batch.done", None, {}) == 0
    assert not WebhookEvent.objects.exists() and not Delivery.objects.exists()


def test_a_sweep_restarts_a_queue_whose_worker_died(receiver, staff, room):
    rx = receiver()
    endpoint, _ = register(staff, rx.url, ["chat.message"])
    chat.message_create(room=room, author=staff, body="orphan")
    # A worker claimed it and died: its lease blocks others until it runs out.
    Delivery.objects.update(lease_until=timezone.now() + timedelta(seconds=30))
    run_all(endpoint)
    assert rx.requests == []
    Delivery.objects.update(lease_until=timezone.now() - timedelta(seconds=1))
    assert delivery.sweep() == 1  # queues a task; here we run the queue ourselves
    run_all(endpoint)
    assert rx.bodies()[0]["data"]["message"]["body"] == "orphan"
