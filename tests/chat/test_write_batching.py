"""chat.send's group commit (chat.writes, chat.services.messages_create_many): many rooms and
concurrent senders, duplicates, a refused or failing send in a batch (issue 18).  Correctness
only: speed is measured by `make bench`, never asserted here."""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from chat import services
from chat.models import Message
from realtime.errors import Forbidden, Invalid, NotFound
from realtime.models import Event
from tests.socket_waits import events_of
from tests.ws import connect_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]

ROOMS, PEOPLE, SENDS = 10, 5, 8


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
                events = await events_of(ws, f"room:{slug}", 2 * SENDS)
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
