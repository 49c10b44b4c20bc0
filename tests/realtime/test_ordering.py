"""The hub's per-topic ordering (realtime/ordering.py), driven directly: live events that
arrive out of order wait for the missing one and are released in seq order, a gap is read
from the outbox, a gap the outbox no longer holds (pruned) is skipped, duplicates are
dropped, a subscriber's buffered events follow its subscribe reply.

A Hub that is not started (no channel layer receive loop) gets layer messages through
`hub.ordering.event` exactly as its receive loop hands them over; its subscribers are
plain objects that record the frames they are sent.  The outbox is the real one.
"""

import asyncio
import logging

import orjson
import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from realtime import outbox
from realtime.hub import Hub
from realtime.models import Event
from realtime.publish import frame
from realtime.subscriptions import Subscription
from realtime.topic_state import TopicState

pytestmark = [pytest.mark.django_db(transaction=True)]

TOPIC = "user:1"
# Seconds to wait for something that must happen: far above the gap wait set below.
DEADLINE = 5.0


class Recorder:
    """A subscriber connection: what it is sent, in order."""

    def __init__(self, conn_id="c1"):
        self.id = conn_id
        self.user_id = None
        self.subs = {}
        self.frames = []

    def send_frame(self, payload):
        self.frames.append(payload)

    def seqs(self):
        return [orjson.loads(f)["seq"] for f in self.frames]

    def texts(self):
        return [orjson.loads(f)["data"]["n"] for f in self.frames]


@pytest.fixture
def gap_wait(settings):
    settings.REALTIME_GAP_WAIT = 0.05
    return settings.REALTIME_GAP_WAIT


@pytest.fixture
def hub_and_subscriber():
    hub = Hub()
    conn = Recorder()
    sub = Subscription(TOPIC)
    sub.syncing = False  # subscribed and caught up at seq 0
    conn.subs[TOPIC] = sub
    state = hub.topics[TOPIC] = TopicState(TOPIC)
    state.conns[conn.id] = conn
    state.last = 0
    yield hub, conn
    hub.presence.stop()


def stored(*numbers):
    """Writes one notification per number to the outbox; returns their seqs."""
    rows = [("notification", orjson.dumps({"n": n})) for n in numbers]
    last = outbox.append(TOPIC, rows, timezone.now())
    return list(range(last - len(rows) + 1, last + 1))


def live(seq, n):
    """The layer message a publish of {"n": n} at `seq` sends."""
    return {"topic": TOPIC, "seq": seq, "event": "notification",
            "frame": frame(TOPIC, "notification", seq, {"n": n}), "exclude": None}


async def until(condition):
    deadline = asyncio.get_running_loop().time() + DEADLINE
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)


async def test_events_in_order_are_delivered_at_once(hub_and_subscriber):
    hub, conn = hub_and_subscriber
    for seq in (1, 2, 3):
        hub.ordering.event(live(seq, seq))
    assert conn.seqs() == [1, 2, 3]


async def test_duplicates_and_old_seqs_are_dropped(hub_and_subscriber):
    hub, conn = hub_and_subscriber
    for seq in (1, 2, 2, 1, 3):
        hub.ordering.event(live(seq, seq))
    assert conn.seqs() == [1, 2, 3]


async def test_an_event_ahead_of_a_gap_waits_for_the_missing_one(hub_and_subscriber, gap_wait):
    hub, conn = hub_and_subscriber
    hub.ordering.event(live(1, 1))
    hub.ordering.event(live(3, 3))
    assert conn.seqs() == [1]  # 3 is held back
    hub.ordering.event(live(2, 2))  # arrives within the gap wait
    assert conn.seqs() == [1, 2, 3]
    assert not hub.topics[TOPIC].pending


async def test_a_gap_is_read_from_the_outbox_when_the_missing_event_never_arrives(
        hub_and_subscriber, gap_wait):
    hub, conn = hub_and_subscriber
    await sync_to_async(stored)(1, 2, 3)  # seq 2's broadcast is "lost"
    hub.ordering.event(live(1, 1))
    hub.ordering.event(live(3, 3))
    assert conn.seqs() == [1]
    await until(lambda: len(conn.frames) == 3)
    assert conn.seqs() == [1, 2, 3]
    assert conn.texts() == [1, 2, 3]  # seq 2 as the outbox holds it
    await until(lambda: not hub.topics[TOPIC].filling)
    assert not hub.topics[TOPIC].pending


async def test_a_gap_the_outbox_no_longer_holds_is_skipped_with_a_warning(
        hub_and_subscriber, gap_wait, caplog):
    hub, conn = hub_and_subscriber
    await sync_to_async(stored)(1, 2, 3, 4)
    await sync_to_async(lambda: Event.objects.filter(topic=TOPIC, seq__in=[2, 3]).delete())()  # pruned
    hub.ordering.event(live(1, 1))
    with caplog.at_level(logging.WARNING, logger="realtime.hub"):
        hub.ordering.event(live(4, 4))
        await until(lambda: len(conn.frames) == 2)
        await until(lambda: not hub.topics[TOPIC].filling)
    assert conn.seqs() == [1, 4]  # never backwards, never twice; the lost part is skipped
    assert hub.topics[TOPIC].last == 4
    assert any("not in the outbox" in r.getMessage() for r in caplog.records)
    hub.ordering.event(live(5, 5))  # and delivery goes on from there
    assert conn.seqs() == [1, 4, 5]


async def test_a_subscriber_that_joined_between_two_events_catches_up_from_the_outbox(
        hub_and_subscriber, gap_wait):
    hub, conn = hub_and_subscriber
    await sync_to_async(stored)(1, 2, 3)
    hub.ordering.event(live(1, 1))
    hub.ordering.event(live(2, 2))
    late = Recorder("c2")  # its subscribe reply said seq 1: it has seen 1, not 2
    sub = Subscription(TOPIC)
    sub.syncing, sub.last = False, 1
    late.subs[TOPIC] = sub
    hub.topics[TOPIC].conns[late.id] = late
    hub.ordering.event(live(3, 3))
    await until(lambda: len(late.frames) == 2)
    assert late.seqs() == [2, 3]
    assert conn.seqs() == [1, 2, 3]


async def test_events_held_behind_a_gap_are_released_in_seq_order_when_it_closes(
        hub_and_subscriber, gap_wait):
    hub, conn = hub_and_subscriber
    for seq in (1, 5, 3, 4):
        hub.ordering.event(live(seq, seq))
    assert conn.seqs() == [1]
    assert sorted(hub.topics[TOPIC].pending) == [3, 4, 5]
    hub.ordering.event(live(2, 2))
    assert conn.seqs() == [1, 2, 3, 4, 5]
    assert hub.topics[TOPIC].pending is None  # nothing kept once released


async def test_ephemeral_events_go_out_at_once_without_a_seq_or_an_order(hub_and_subscriber):
    hub, conn = hub_and_subscriber
    hub.ordering.event({"topic": TOPIC, "seq": None, "event": "presence.join",
                        "frame": '{"seq": null}', "exclude": None})
    hub.ordering.event({"topic": TOPIC, "seq": None, "event": "presence.join",
                        "frame": '{"seq": null}', "exclude": conn.id})  # its own: not echoed
    assert conn.frames == ['{"seq": null}']
    assert hub.topics[TOPIC].last == 0


async def test_a_subscriber_still_syncing_gets_its_buffered_events_after_the_drain(
        hub_and_subscriber):
    hub, conn = hub_and_subscriber
    sub = conn.subs[TOPIC]
    sub.syncing = True  # its subscribe reply is not written yet
    hub.ordering.event(live(1, 1))
    hub.ordering.event(live(2, 2))
    assert conn.frames == []
    hub.ordering.drain(conn, sub)  # the reply went out
    assert conn.seqs() == [1, 2]


async def test_a_fill_of_a_topic_no_longer_followed_stops_and_touches_no_new_subscriber(
        hub_and_subscriber, gap_wait):
    hub, conn = hub_and_subscriber
    await sync_to_async(stored)(1, 2, 3)
    hub.ordering.event(live(1, 1))
    old = hub.topics[TOPIC]
    hub.ordering.event(live(3, 3))  # a gap: a fill waits for seq 2
    assert old.filling
    del hub.topics[TOPIC]  # the last subscriber left; a new one follows the topic afresh
    newcomer = Recorder("c2")
    sub = Subscription(TOPIC)
    sub.syncing, sub.last = False, 3
    newcomer.subs[TOPIC] = sub
    fresh = hub.topics[TOPIC] = TopicState(TOPIC)
    fresh.conns[newcomer.id], fresh.last = newcomer, 3
    await until(lambda: not old.filling)
    assert newcomer.frames == [] and not fresh.filling
    assert conn.seqs() == [1]  # nothing delivered through the dropped state either
