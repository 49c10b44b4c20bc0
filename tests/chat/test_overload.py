"""The write bound (`overloaded`, REST 503) and delivery while the write path is held
(issue 18).  Correctness only: speed is measured by `make bench`, never asserted here."""

import threading

import orjson
import pytest
from asgiref.sync import sync_to_async
from django.db import transaction
from django.utils import timezone

from chat import writes
from chat.models import Message
from realtime import WRITES_REFUSED, outbox, registry, store
from realtime.publish import publish
from tests.socket_waits import events_of, wait_for
from tests.ws import ProtocolErrorFrame, connect_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]


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
            await wait_for(lambda: _refused() - refused_before >= 3)
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
            await wait_for(lambda: len(started) >= width)
            # A live publish from another thread, and one the hub must fill from the outbox.
            await sync_to_async(publish, thread_sensitive=False)("room:lobby", "notification", {"n": 1})
            await sync_to_async(_publish_outbox_only, thread_sensitive=False)("room:lobby", {"n": 2})
            await sync_to_async(publish, thread_sensitive=False)("room:lobby", "notification", {"n": 3})
            got = await events_of(ws, "room:lobby", 3, event="notification")
            assert [e["data"]["n"] for e in got] == [1, 2, 3]
            assert got[1]["seq"] == got[0]["seq"] + 1 and got[2]["seq"] == got[1]["seq"] + 1
            # chat.send has its own writers, and a resume reads in the reads pool.
            reply = await ws.request("chat.send", "room:lobby", {"body": "still here", "client_id": "s"})
            assert reply["message"]["body"] == "still here"
            async with connect_ws(user) as late:
                resumed = await late.request("subscribe", "room:lobby", {"since": got[0]["seq"]})
                assert resumed["recovered"] is True
                replayed = await events_of(late, "room:lobby", 2, event="notification")
                assert [e["data"]["n"] for e in replayed] == [2, 3]
            assert len(started) == width  # the handlers were held all along
    finally:
        release.set()
        for cm in blockers:
            await cm.__aexit__(None, None, None)
        registry.actions.pop("test.block", None)
