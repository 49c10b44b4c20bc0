"""chat.send's group commit (chat.writes, chat.services.messages_create_many), the write
bound (`overloaded`) and delivery while the write path is held (issue 18).  Correctness
only: speed is measured by `make bench`, never asserted here."""

import asyncio
import threading
import time

import orjson
import pytest
from asgiref.sync import sync_to_async
from django.db import transaction
from django.utils import timezone

from chat import services, writes
from chat.models import Message
from realtime import WRITES_REFUSED, outbox, registry, store
from realtime.errors import Forbidden, Invalid, NotFound
from realtime.models import Event
from realtime.publish import publish
from tests.ws import ProtocolErrorFrame, connect_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]

ROOMS, PEOPLE, SENDS = 10, 5, 8


async def _wait_for(predicate, timeout=10.0):
    """Polls until predicate() is true (a deadline, not a sleep as synchronisation)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.01)


async def _events_of(ws, topic, count, event="chat.message", timeout=10.0):
    """The next `count` events named `event` of `topic` (others skipped)."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        frame = await ws.next_event(timeout=max(0.1, deadline - time.monotonic()))
        if frame.get("type") == "event" and frame["topic"] == topic and frame["event"] == event:
            got.append(frame)
    return got


async def _send_all(ws, topic, bodies, tag):
    """Sends every chat.send frame at once (pipelined), then collects one answer each."""
    ids = [f"{tag}-{n}" for n in range(len(bodies))]
    for request_id, body in zip(ids, bodies, strict=True):
        await ws.send({"action": "chat.send", "request_id": request_id, "topic": topic,
                       "data": {"body": body, "client_id": request_id}})
    answers = {}
    while len(answers) < len(ids):
        frame = await ws.receive(timeout=10)
        if frame.get("type") in ("reply", "error") and frame.get("request_id") in ids:
            assert frame["request_id"] not in answers, "a send was answered twice"
            answers[frame["request_id"]] = frame
        else:
            ws.events.append(frame)
    return [answers[i] for i in ids]


async def test_many_rooms_concurrent_senders_lose_nothing_and_keep_order_and_gap_free_seqs(make_user, owner):
    slugs = [f"r{i}" for i in range(ROOMS)]
    for slug in slugs:
        await sync_to_async(services.room_create)(creator=owner, slug=slug, name=slug)
    people = [[await sync_to_async(make_user)(f"p{r}x{p}") for p in range(PEOPLE)] for r in range(ROOMS)]
    sockets = [[connect_ws(person) for person in room] for room in people]
    opened = [[await cm.__aenter__() for cm in room] for room in sockets]
    try:
        for slug, room in zip(slugs, opened, strict=True):
            for ws in room:
                await ws.request("subscribe", f"room:{slug}")
        # Two senders per room, all 20 at once: their sends meet in the batcher.
        work = [_send_all(room[s], f"room:{slug}", [f"{slug} {s} {n}" for n in range(SENDS)],
                          f"{slug}-{s}")
                for slug, room in zip(slugs, opened, strict=True) for s in (0, 1)]
        results = await asyncio.gather(*work)
        for answers in results:
            assert [a["type"] for a in answers] == ["reply"] * SENDS
        for slug, room in zip(slugs, opened, strict=True):
            for ws in room:
                events = await _events_of(ws, f"room:{slug}", 2 * SENDS)
                seqs = [e["seq"] for e in events]
                assert seqs == list(range(seqs[0], seqs[0] + 2 * SENDS))  # gap-free, in order
                bodies = [e["data"]["message"]["body"] for e in events]
                for s in (0, 1):  # each sender's messages in the order it sent them
                    assert [b for b in bodies if b.startswith(f"{slug} {s} ")] == \
                        [f"{slug} {s} {n}" for n in range(SENDS)]
                assert await ws.expect_silence(0.2) or all(
                    e["event"].startswith("presence.") for e in ws.events)
    finally:
        for room in sockets:
            for cm in room:
                await cm.__aexit__(None, None, None)
    assert await sync_to_async(Message.objects.count)() == ROOMS * 2 * SENDS


def _send(room, author, body, client_id):
    return {"room": room, "author": author, "body": body, "client_id": client_id}


def test_duplicates_in_one_batch_and_across_batches_answer_the_original(lobby, user):
    first = services.messages_create_many([_send("lobby", user, "one", "c-1"),
                                           _send("lobby", user, "one again", "c-1"),
                                           _send(lobby, user, "two", "c-2")])
    assert first[0].pk == first[1].pk and first[1].body == "one"
    assert first[2].pk != first[0].pk
    later = services.messages_create_many([_send(lobby, user, "changed", "c-1")])
    assert later[0].pk == first[0].pk and later[0].body == "one"
    assert Message.objects.filter(room=lobby).count() == 2
    assert Event.objects.filter(topic="room:lobby", event="chat.message").count() == 2


def test_a_batch_over_several_rooms_numbers_each_rooms_events_from_its_own_counter(lobby, user, owner):
    rooms = [lobby] + [services.room_create(creator=owner, slug=f"b{i}", name=f"B{i}") for i in range(3)]
    services.messages_create_many([_send(lobby, user, "before", "pre")])
    before = Event.objects.get(topic="room:lobby", event="chat.message").seq
    sends = [_send(rooms[n % 4], user, f"m{n}", f"k{n}") for n in range(10)]  # rooms interleaved
    results = services.messages_create_many(sends)
    assert all(isinstance(r, Message) for r in results)
    for room in rooms:
        events = list(Event.objects.filter(topic=room.topic, event="chat.message").order_by("seq"))
        bodies = [e.data["message"]["body"] for e in events]
        expected = [s["body"] for s in sends if s["room"] is room]
        start = before + 1 if room is lobby else events[0].seq
        assert bodies[-len(expected):] == expected  # in send order
        assert [e.seq for e in events[-len(expected):]] == list(range(start, start + len(expected)))


def test_a_refused_send_in_a_batch_does_not_fail_the_others(lobby, secret, user, make_user, owner):
    archived = services.room_create(creator=owner, slug="old", name="Old")
    services.room_archive(room=archived, actor=owner)
    results = services.messages_create_many([
        _send("lobby", user, "fine", "a"),
        _send("secret", user, "not a member", "b"),
        _send("lobby", user, "   ", "c"),
        _send("old", user, "archived", "d"),
        _send("nowhere", user, "no room", "e"),
        _send("lobby", user, "also fine", "f"),
    ])
    assert [type(r) for r in results] == [Message, NotFound, Invalid, Forbidden, NotFound, Message]
    assert [m.body for m in Message.objects.filter(room=lobby).order_by("id")] == ["fine", "also fine"]


def test_a_send_failing_in_the_database_does_not_fail_the_others(lobby, user, make_user):
    gone = make_user("gone")
    gone_pk = gone.pk
    type(gone).objects.filter(pk=gone_pk).delete()
    gone.pk = gone_pk  # an author deleted while its send waited: the insert fails
    results = services.messages_create_many([_send("lobby", user, "kept", "k-1"),
                                             _send("lobby", gone, "lost", "g-1"),
                                             _send("lobby", user, "kept too", "k-2")])
    assert isinstance(results[0], Message) and isinstance(results[2], Message)
    assert isinstance(results[1], Exception)
    assert [m.body for m in Message.objects.filter(room=lobby).order_by("id")] == ["kept", "kept too"]


def _hold_a_write(release):
    """Holds one write open in a thread (a REST write in progress); returns when it is."""
    inside = threading.Event()

    def run():
        with writes.admitted("call"):
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert inside.wait(5)
    return thread


async def test_over_the_bound_a_send_is_refused_overloaded_and_its_retry_is_not_a_duplicate(
        lobby, user, settings):
    settings.REALTIME_MAX_PENDING_WRITES = 1
    release = threading.Event()
    async with connect_ws(user) as ws:
        await ws.request("subscribe", "room:lobby")
        holder = _hold_a_write(release)
        try:
            with pytest.raises(ProtocolErrorFrame) as refused:
                await ws.request("chat.send", "room:lobby", {"body": "hi", "client_id": "x-1"})
        finally:
            release.set()
            holder.join(5)
        assert refused.value.error["code"] == "overloaded"
        assert refused.value.error["retry_after"] == settings.REALTIME_OVERLOAD_RETRY_AFTER
        reply = await ws.request("chat.send", "room:lobby", {"body": "hi", "client_id": "x-1"})
        again = await ws.request("chat.send", "room:lobby", {"body": "hi", "client_id": "x-1"})
        assert again["message"]["id"] == reply["message"]["id"]
    assert await sync_to_async(Message.objects.count)() == 1


def _refused():
    return WRITES_REFUSED.labels("socket")._value.get()


async def test_one_sockets_pipelined_sends_fill_the_bound_and_the_rest_are_refused_overloaded(
        lobby, user, settings, monkeypatch):
    """Its sends overlap now (chat.send is concurrent), so one socket's burst reaches the
    write bound while the write path is held, and what is past it is refused, not queued;
    answers stay in request order and the retries add no duplicate."""
    settings.REALTIME_MAX_PENDING_WRITES = 3
    release, original = threading.Event(), writes._write_batch

    def held_batch(sends):
        release.wait(30)
        return original(sends)

    monkeypatch.setattr(writes, "_write_batch", held_batch)
    refused_before = _refused()
    async with connect_ws(user) as ws:
        await ws.request("subscribe", "room:lobby")
        ids = [f"s{n}" for n in range(6)]
        for request_id in ids:
            await ws.send({"action": "chat.send", "request_id": request_id, "topic": "room:lobby",
                           "data": {"body": request_id, "client_id": request_id}})
        try:
            await _wait_for(lambda: _refused() - refused_before >= 3)
            assert writes.gate.pending() == 3  # the bound, not the socket's whole burst
        finally:
            release.set()
        answers = {}
        while len(answers) < len(ids):
            frame = await ws.receive(timeout=10)
            if frame.get("type") in ("reply", "error"):
                answers[frame["request_id"]] = frame
        assert list(answers) == ids  # in request order
        assert [answers[i]["type"] for i in ids] == ["reply"] * 3 + ["error"] * 3
        assert {answers[i]["error"]["code"] for i in ids[3:]} == {"overloaded"}
        for request_id in ids:  # the client's retries, same client_id: nothing doubles
            await ws.request("chat.send", "room:lobby", {"body": request_id, "client_id": request_id})
    assert sorted(await sync_to_async(lambda: list(Message.objects.values_list("body", flat=True)))()) == ids


def test_rest_write_over_the_bound_is_503_with_retry_after(lobby, user, api_as, settings):
    settings.REALTIME_MAX_PENDING_WRITES = 1
    release = threading.Event()
    holder = _hold_a_write(release)
    try:
        response = api_as(user).post("/api/rooms/lobby/messages/", {"body": "hi", "client_id": "r-1"},
                                     format="json")
    finally:
        release.set()
        holder.join(5)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "overloaded"
    assert response["Retry-After"] == "1" and response.json()["error"]["retry_after"] == 1
    again = api_as(user).post("/api/rooms/lobby/messages/", {"body": "hi", "client_id": "r-1"},
                              format="json")
    assert again.status_code == 201
    assert Message.objects.count() == 1


def _publish_outbox_only(topic, data):
    """An event written to the outbox but never broadcast (a lost broadcast): only a gap
    fill from the outbox can deliver it."""
    with transaction.atomic():
        outbox.append(topic, [("notification", orjson.dumps(data))], timezone.now())


async def test_delivery_and_sends_continue_while_every_action_thread_is_held(lobby, user, make_user):
    release, started = threading.Event(), []
    lock = threading.Lock()

    def block(request):
        with lock:
            started.append(request.connection_id)
        release.wait(30)
        return {}

    registry.register_action("test.block", block)
    width = store.pool(store.ACTIONS)._max_workers
    blockers = [connect_ws(await sync_to_async(make_user)()) for _ in range(width + 1)]
    held = [await cm.__aenter__() for cm in blockers]
    try:
        async with connect_ws(user) as ws:
            await ws.request("subscribe", "room:lobby")
            for blocker in held:
                await blocker.send({"action": "test.block", "request_id": "b", "data": {}})
            await _wait_for(lambda: len(started) >= width)
            # A live publish from another thread, and one the hub must fill from the outbox.
            await sync_to_async(publish, thread_sensitive=False)("room:lobby", "notification", {"n": 1})
            await sync_to_async(_publish_outbox_only, thread_sensitive=False)("room:lobby", {"n": 2})
            await sync_to_async(publish, thread_sensitive=False)("room:lobby", "notification", {"n": 3})
            got = await _events_of(ws, "room:lobby", 3, event="notification")
            assert [e["data"]["n"] for e in got] == [1, 2, 3]
            assert got[1]["seq"] == got[0]["seq"] + 1 and got[2]["seq"] == got[1]["seq"] + 1
            # chat.send has its own writers, and a resume reads in the reads pool.
            reply = await ws.request("chat.send", "room:lobby", {"body": "still here", "client_id": "s"})
            assert reply["message"]["body"] == "still here"
            async with connect_ws(user) as late:
                resumed = await late.request("subscribe", "room:lobby", {"since": got[0]["seq"]})
                assert resumed["recovered"] is True
                replayed = await _events_of(late, "room:lobby", 2, event="notification")
                assert [e["data"]["n"] for e in replayed] == [2, 3]
            assert len(started) == width  # the handlers were held all along
    finally:
        release.set()
        for cm in blockers:
            await cm.__aexit__(None, None, None)
        registry.actions.pop("test.block", None)
