"""publish(): outbox rows in the caller's transaction, sent after commit, seq gap-free."""

import threading

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, transaction

from realtime.models import Event, TopicCounter
from realtime.publish import publish, publish_many
from tests.ws import connect_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]


async def test_a_rolled_back_change_is_never_announced(user):
    topic = f"user:{user.pk}"

    @sync_to_async
    def publish_then_fail():
        with pytest.raises(RuntimeError), transaction.atomic():
            publish(topic, "notification", {"doomed": True})
            raise RuntimeError("the change failed")

    async with connect_ws(user) as ws:
        await ws.request("subscribe", topic)
        await publish_then_fail()
        assert await ws.expect_silence(0.5)
        assert await sync_to_async(Event.objects.count)() == 0
        seq = await sync_to_async(publish)(topic, "notification", {"ok": True})
        assert seq == 1  # the rolled-back seq was not burnt: no gap
        assert (await ws.next_event())["seq"] == 1


async def test_ephemeral_events_have_no_seq_and_no_history(user):
    topic = f"user:{user.pk}"
    async with connect_ws(user) as ws:
        await ws.request("subscribe", topic)
        assert await sync_to_async(publish)(topic, "notification", {"typing": 1}, ephemeral=True) is None
        event = await ws.next_event()
        assert event["seq"] is None and event["data"] == {"typing": 1}
    assert await sync_to_async(Event.objects.count)() == 0


def test_unregistered_events_and_bad_data_are_refused():
    with pytest.raises(ValueError, match="not registered"):
        publish("user:1", "made.up", {})
    with pytest.raises(ValueError, match="dict"):
        publish("user:1", "notification", ["not", "a", "dict"])
    with pytest.raises(ValueError, match="schema"):
        publish("user:1", "presence.join", {"users": [{"id": "not-an-int"}]}, ephemeral=True)


@pytest.mark.postgres  # SQLite serialises writers, so there is no race to test
def test_seq_is_gap_free_and_unique_under_concurrent_writers():
    errors = []

    def writer():
        try:
            for _ in range(25):
                publish("user:7", "notification", {})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    seqs = sorted(Event.objects.filter(topic="user:7").values_list("seq", flat=True))
    assert seqs == list(range(1, 151))
    assert TopicCounter.objects.get(topic="user:7").seq == 150


async def test_a_burst_of_1000_durable_publishes_reaches_the_subscriber_complete_and_in_order(user):
    topic = f"user:{user.pk}"

    @sync_to_async(thread_sensitive=False)
    def burst():
        for i in range(1000):  # one at a time, like a worker looping over items
            publish(topic, "notification", {"i": i})

    async with connect_ws(user) as ws:
        await ws.request("subscribe", topic)
        await burst()
        seqs = [(await ws.next_event(timeout=10))["seq"] for _ in range(1000)]
        assert seqs == list(range(1, 1001))


async def test_publish_many_assigns_consecutive_seqs_per_topic(user, make_user):
    other = await sync_to_async(make_user)("other")
    seqs = await sync_to_async(publish_many)([
        (f"user:{user.pk}", "notification", {}), (f"user:{other.pk}", "notification", {}),
        (f"user:{user.pk}", "notification", {})])
    assert seqs == [1, 1, 2]


def test_timer_settings_in_the_wrong_order_fail_the_system_check(settings):
    from realtime.checks import timer_order

    assert timer_order(None) == []
    settings.REALTIME_CONNECTION_STALE_AFTER = settings.REALTIME_HEARTBEAT_INTERVAL
    assert [e.id for e in timer_order(None)] == ["realtime.E001"]
