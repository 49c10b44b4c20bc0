"""Deleted data stays deleted: after an edit or delete no replay (resume with `since`),
history page or REST list returns the old text; a deleted room's topics keep no history,
and a new room of the same slug, by someone else, neither replays nor resumes it."""

import orjson
import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from chat import services
from chat.models import Room
from realtime.models import Event, TopicCounter
from tests.whiteboard.conftest import new_shape
from tests.ws import connect_ws
from whiteboard import services as board

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]

SECRET_TEXT = "the launch code is 0000"


async def subscribe_and_replay(ws, topic, since):
    """(reply, [event frames replayed before the reply]) of a subscribe with `since`."""
    ws.events.clear()
    reply = await ws.request("subscribe", topic, {"since": since})
    replayed = [f for f in ws.events if f["type"] == "event" and f["seq"] is not None]
    ws.events.clear()
    return reply, replayed


def stored_text(topic):
    """Everything the outbox keeps for a topic, as one string."""
    return orjson.dumps(list(Event.objects.filter(topic=topic).values_list("event", "data"))).decode()


async def test_resume_after_an_edit_replays_the_new_text_only(lobby, user, api_as):
    async with connect_ws(user) as ws:
        before = (await ws.request("subscribe", "room:lobby"))["seq"]
        sent = await ws.request("chat.send", "room:lobby", {"body": SECRET_TEXT, "client_id": "e1"})
        message_id = sent["message"]["id"]
        await ws.request("chat.edit", "room:lobby", {"id": message_id, "body": "draft two"})
        await ws.request("chat.edit", "room:lobby", {"id": message_id, "body": "final words"})
    async with connect_ws(user) as ws:
        reply, replayed = await subscribe_and_replay(ws, "room:lobby", before)
        assert reply["recovered"] is True
        assert [f["seq"] for f in replayed] == list(range(before + 1, before + 4))  # no gap
        assert [f["event"] for f in replayed] == ["chat.message", "chat.edited", "chat.edited"]
        for frame in replayed:
            assert frame["data"]["message"]["body"] == "final words"
            assert frame["data"]["message"]["edited_at"] is not None
        text = orjson.dumps(replayed).decode()
        assert SECRET_TEXT not in text and "draft two" not in text
        page = await ws.request("chat.history", "room:lobby", {})
        assert [m["body"] for m in page["messages"]] == ["final words"]
    assert SECRET_TEXT not in await sync_to_async(stored_text)("room:lobby")
    response = await sync_to_async(lambda: api_as(user).get("/api/rooms/lobby/messages/"))()
    assert response.status_code == 200 and SECRET_TEXT not in response.content.decode()


async def test_resume_after_a_delete_replays_tombstones_only(lobby, user, api_as):
    async with connect_ws(user) as ws:
        before = (await ws.request("subscribe", "room:lobby"))["seq"]
        sent = await ws.request("chat.send", "room:lobby", {"body": SECRET_TEXT, "client_id": "d1"})
        message_id = sent["message"]["id"]
        await ws.request("chat.edit", "room:lobby", {"id": message_id, "body": "edited secret"})
        tombstone = (await ws.request("chat.delete", "room:lobby", {"id": message_id}))["message"]
    assert tombstone["deleted"] is True and tombstone["body"] == ""
    async with connect_ws(user) as ws:
        reply, replayed = await subscribe_and_replay(ws, "room:lobby", before)
        assert reply["recovered"] is True
        assert [f["seq"] for f in replayed] == list(range(before + 1, before + 4))
        assert [f["event"] for f in replayed] == ["chat.message", "chat.edited", "chat.deleted"]
        assert all(f["data"] == {"message": tombstone} for f in replayed)
        page = await ws.request("chat.history", "room:lobby", {})
        assert page["messages"] == [tombstone]
    stored = await sync_to_async(stored_text)("room:lobby")
    assert SECRET_TEXT not in stored and "edited secret" not in stored
    response = await sync_to_async(lambda: api_as(user).get("/api/rooms/lobby/messages/"))()
    body = response.content.decode()
    assert response.status_code == 200 and SECRET_TEXT not in body and "edited secret" not in body


async def test_other_messages_keep_their_events_when_one_is_deleted(lobby, user):
    async with connect_ws(user) as ws:
        before = (await ws.request("subscribe", "room:lobby"))["seq"]
        kept = await ws.request("chat.send", "room:lobby", {"body": "keep me", "client_id": "k"})
        gone = await ws.request("chat.send", "room:lobby", {"body": SECRET_TEXT, "client_id": "g"})
        await ws.request("chat.delete", "room:lobby", {"id": gone["message"]["id"]})
    async with connect_ws(user) as ws:
        _, replayed = await subscribe_and_replay(ws, "room:lobby", before)
        assert replayed[0]["data"] == kept
        assert [f["data"]["message"]["body"] for f in replayed] == ["keep me", "", ""]


def _fill_private_room(owner):
    room = services.room_create(creator=owner, slug="hideout", name="Hideout", is_private=True)
    services.message_create(room=room, author=owner, body=SECRET_TEXT)
    board.shape_draw(room=room, user=owner, shape=new_shape("text"))
    return room


def _assert_retired(slug, old_seqs):
    """No stored event of the old room's topics; each counter moved past its old seq."""
    for topic, old in old_seqs.items():
        assert not Event.objects.filter(topic=topic).exists()
        assert TopicCounter.objects.get(topic=topic).seq > old


async def _assert_new_room_starts_clean(newcomer, old_seqs):
    """The newcomer's room of the same slug: plain subscribes see no history, and the old
    room's seqs resume nothing (recovered: false), even once the new room has events."""
    await sync_to_async(services.room_create)(creator=newcomer, slug="hideout", name="Mine",
                                              is_private=True)
    async with connect_ws(newcomer) as ws:
        for topic, old in old_seqs.items():
            reply, replayed = await subscribe_and_replay(ws, topic, old)
            assert reply["recovered"] is False and replayed == []
            assert reply["seq"] > old
        page = await ws.request("chat.history", "room:hideout", {})
        assert page == {"messages": [], "has_more": False}
        for n in range(3):
            await ws.request("chat.send", "room:hideout", {"body": f"new {n}", "client_id": f"n{n}"})
    async with connect_ws(newcomer) as ws:
        for topic, old in old_seqs.items():
            reply, replayed = await subscribe_and_replay(ws, topic, old)
            assert reply["recovered"] is False and replayed == []
        snapshot = await ws.request("board.snapshot", "board:hideout", {})
        assert snapshot["shapes"] == []
    assert SECRET_TEXT not in await sync_to_async(stored_text)("room:hideout")


async def _old_seqs(owner):
    async with connect_ws(owner) as ws:
        return {topic: (await ws.request("subscribe", topic))["seq"]
                for topic in ("room:hideout", "board:hideout")}


async def test_a_deleted_room_leaves_no_history_for_a_new_room_of_its_slug(owner, staff, make_user):
    room = await sync_to_async(_fill_private_room)(owner)
    old_seqs = await _old_seqs(owner)
    assert all(seq > 0 for seq in old_seqs.values())
    await sync_to_async(services.room_delete)(room=room, actor=owner)
    await sync_to_async(_assert_retired)("hideout", old_seqs)
    newcomer = await sync_to_async(make_user)("newcomer")
    await _assert_new_room_starts_clean(newcomer, old_seqs)


async def test_a_subscriber_of_a_deleted_room_is_revoked(owner):
    room = await sync_to_async(_fill_private_room)(owner)
    async with connect_ws(owner) as ws:
        await ws.request("subscribe", "room:hideout")
        await sync_to_async(services.room_delete)(room=room, actor=owner)
        while True:
            frame = await ws.next_event()
            if frame.get("event") == "subscription.revoked":
                break
        assert frame["topic"] == "room:hideout"


def _admin_bulk_delete(staff, slugs):
    staff.is_superuser = True  # the admin's model permissions
    staff.save()
    client = Client()
    client.force_login(staff)
    ids = [str(pk) for pk in Room.objects.filter(slug__in=slugs).values_list("pk", flat=True)]
    response = client.post("/admin/chat/room/", {"action": "delete_selected",
                                                 "_selected_action": ids, "post": "yes"})
    assert response.status_code == 302, response.content[:500]
    assert not Room.objects.filter(slug__in=slugs).exists()


async def test_the_admin_bulk_delete_retires_the_rooms_topics(owner, staff, make_user):
    await sync_to_async(_fill_private_room)(owner)
    old_seqs = await _old_seqs(owner)
    await sync_to_async(_admin_bulk_delete)(staff, ["hideout"])
    await sync_to_async(_assert_retired)("hideout", old_seqs)
    newcomer = await sync_to_async(make_user)("newcomer")
    await _assert_new_room_starts_clean(newcomer, old_seqs)


async def test_the_message_admin_bulk_delete_leaves_only_tombstones_to_replay(lobby, user, staff):
    async with connect_ws(user) as ws:
        before = (await ws.request("subscribe", "room:lobby"))["seq"]
        for n in range(2):
            await ws.request("chat.send", "room:lobby", {"body": f"{SECRET_TEXT} {n}", "client_id": f"b{n}"})

    def bulk_delete():
        staff.is_superuser = True
        staff.save()
        client = Client()
        client.force_login(staff)
        ids = [str(pk) for pk in lobby.messages.values_list("pk", flat=True)]
        return client.post("/admin/chat/message/", {"action": "delete_selected",
                                                    "_selected_action": ids, "post": "yes"})

    assert (await sync_to_async(bulk_delete)()).status_code == 302
    async with connect_ws(user) as ws:
        reply, replayed = await subscribe_and_replay(ws, "room:lobby", before)
        assert reply["recovered"] is True and len(replayed) == 4
        assert all(f["data"]["message"]["deleted"] and f["data"]["message"]["body"] == ""
                   for f in replayed)
    assert SECRET_TEXT not in await sync_to_async(stored_text)("room:lobby")


async def test_a_deleted_accounts_messages_are_tombstones_in_every_replay(lobby, user, make_user, api_as):
    author = await sync_to_async(make_user)("leaving")
    async with connect_ws(user) as watcher:
        before = (await watcher.request("subscribe", "room:lobby"))["seq"]
        async with connect_ws(author) as ws:
            sent = await ws.request("chat.send", "room:lobby", {"body": SECRET_TEXT, "client_id": "u1"})
            edit = {"id": sent["message"]["id"], "body": "second secret"}
            await ws.request("chat.edit", "room:lobby", edit)
        await sync_to_async(author.delete)()
        # Open clients are told, live: the message is a tombstone now.
        while True:
            event = await watcher.next_event()
            if event["event"] == "chat.deleted":
                break
        assert event["data"]["message"]["id"] == sent["message"]["id"]
        assert event["data"]["message"]["body"] == "" and event["data"]["message"]["deleted"] is True
    async with connect_ws(user) as ws:
        reply, replayed = await subscribe_and_replay(ws, "room:lobby", before)
        assert reply["recovered"] is True
        assert [f["event"] for f in replayed] == ["chat.message", "chat.edited", "chat.deleted"]
        assert all(f["data"]["message"]["body"] == "" for f in replayed)
    stored = await sync_to_async(stored_text)("room:lobby")
    assert SECRET_TEXT not in stored and "second secret" not in stored
