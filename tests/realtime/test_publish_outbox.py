"""publish()'s outbox write (one statement per topic) and the sender's joined sends."""

import asyncio
import importlib
import threading

import orjson
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from realtime.models import Event, TopicCounter
from realtime.publish import frame, publish, publish_many

# The module, for monkeypatching its internals (`realtime.publish` is the public function).
publishing = importlib.import_module("realtime.publish")

pytestmark = pytest.mark.django_db(transaction=True)


def test_frames_are_byte_for_byte_what_orjson_makes_of_the_whole_frame():
    for seq in (None, 0, 7, 2**62):
        data = {"s": "é\"\\\n", "n": [1, 2.5, None, True], "d": {"k": {}}}
        expected = orjson.dumps({"type": "event", "topic": "room:a\"b", "event": "notification",
                                 "seq": seq, "data": data}).decode()
        assert frame("room:a\"b", "notification", seq, data) == expected


def test_the_outbox_row_holds_what_was_published(monkeypatch):
    sent = []
    monkeypatch.setattr(publishing, "_send_sync", sent.extend)
    seqs = publish_many([("user:1", "notification", {"n": 1, "s": "é"}),
                         ("user:2", "notification", {"n": 2}),
                         ("user:1", "notification", {"n": 3})])
    assert seqs == [1, 1, 2]
    rows = list(Event.objects.order_by("topic", "seq").values_list("topic", "seq", "event", "data"))
    assert rows == [("user:1", 1, "notification", {"n": 1, "s": "é"}),
                    ("user:1", 2, "notification", {"n": 3}),
                    ("user:2", 1, "notification", {"n": 2})]
    assert Event.objects.filter(created_at__isnull=True).count() == 0
    assert dict(TopicCounter.objects.values_list("topic", "seq")) == {"user:1": 2, "user:2": 1}
    # Sent in the order given, each frame the one the outbox row makes.
    assert [(m["topic"], m["seq"]) for m in sent] == [("user:1", 1), ("user:2", 1), ("user:1", 2)]
    assert sent[2]["frame"] == frame("user:1", "notification", 2, {"n": 3})


@pytest.mark.postgres  # the single-statement outbox write is PostgreSQL's
def test_a_publish_outside_a_transaction_is_one_statement_on_postgresql(monkeypatch):
    monkeypatch.setattr(publishing, "_send_sync", lambda messages: None)
    publish("user:1", "notification", {})
    with CaptureQueriesContext(connection) as queries:
        assert publish("user:1", "notification", {}) == 2
    assert len(queries) == 1  # no BEGIN/COMMIT of ours: the statement commits itself
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        publish("user:1", "notification", {})
    assert [q["sql"] for q in queries][-1] == "COMMIT"
    assert len(queries) == 3  # the caller's BEGIN and COMMIT, no savepoint


def test_a_failed_outbox_write_announces_nothing_and_burns_no_seq(monkeypatch):
    sent = []
    monkeypatch.setattr(publishing, "_send_sync", sent.extend)
    with pytest.raises(TypeError):
        publish("user:1", "notification", {"bad": {1, 2}})  # not JSON: refused before any write
    assert publish("user:1", "notification", {}) == 1
    assert [m["seq"] for m in sent] == [1]


def test_messages_queued_while_the_sender_is_busy_share_a_redis_message(monkeypatch):
    calls, busy, release = [], threading.Event(), threading.Event()

    async def fake_group_send(group, message):
        calls.append((group, message))
        if not busy.is_set():
            busy.set()
            # The sender stays busy with its first send until everything below is submitted,
            # so what is submitted meanwhile queues up (an event, not a guessed sleep).
            await asyncio.get_running_loop().run_in_executor(None, release.wait, 5)

    monkeypatch.setattr(publishing, "_group_send", fake_group_send)
    sender = publishing._Sender()

    def messages(topic, seqs, size=10):
        return [publishing._message(topic, s, "notification", "x" * size, None) for s in seqs]

    sender.submit(messages("user:1", [1]))
    assert busy.wait(5)
    for seq in range(2, 7):
        sender.submit(messages("user:1", [seq]))
    sender.submit(messages("user:2", [1]))
    marker_done = []
    sender.submit(fake_control(calls, marker_done))
    sender.submit(messages("user:1", [7]))
    big = publishing.SEND_CHUNK_BYTES // 2 + 1
    sender.submit(messages("user:3", [1, 2, 3], size=big))
    release.set()
    sender.flush(5)
    sent = [(group, [e["seq"] for e in message.get("events", [])]) for group, message in calls]
    group = publishing.topic_group
    assert sent == [(group("user:1"), [1]), (group("user:1"), [2, 3, 4, 5, 6]), (group("user:2"), [1]),
                    ("control", []), (group("user:1"), [7]),
                    (group("user:3"), [1]), (group("user:3"), [2]), (group("user:3"), [3])]


async def fake_control(calls, done):
    calls.append(("control", {}))
    done.append(True)


def test_events_over_send_chunk_are_split():
    messages = [publishing._message("user:1", s, "notification", "x", None)
                for s in range(publishing.SEND_CHUNK + 1)]
    assert [len(batch) for _, batch in publishing._group_messages(messages)] == [publishing.SEND_CHUNK, 1]
