"""The chat actions through the real consumer, hub and Redis channel layer."""

import asyncio
import contextlib

import pytest
from asgiref.sync import sync_to_async

from chat import services
from chat.models import Message, RoomMembership
from tests.ws import ProtocolErrorFrame, connect_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]

LOBBY = "room:lobby"
ORIGIN = "http://localhost"  # a same-site browser without a session: anonymous


async def next_event(ws):
    """The next event that is not presence (joins of other test connections)."""
    while True:
        event = await ws.next_event()
        if not event["event"].startswith("presence."):
            return event


async def assert_no_chat_events(ws, timeout=0.3):
    """Nothing but presence events arrives within `timeout` seconds."""
    while True:
        while ws.events:
            assert ws.events.pop(0)["event"].startswith("presence.")
        if await ws.expect_silence(timeout):
            return
        assert (await ws.next_event())["event"].startswith("presence.")


async def error_of(coro):
    with pytest.raises(ProtocolErrorFrame) as exc:
        await coro
    return exc.value.error


async def test_send_replies_and_reaches_every_subscriber_in_the_same_shape(lobby, user, make_user):
    bob = await sync_to_async(make_user)("bob")
    async with connect_ws(user) as alice_ws, connect_ws(bob) as bob_ws:
        await alice_ws.request("subscribe", LOBBY)
        await bob_ws.request("subscribe", LOBBY)
        reply = await alice_ws.request("chat.send", LOBBY, {"body": " hi ", "client_id": "c-1"})
        message = reply["message"]
        assert message["body"] == "hi" and message["author"]["display_name"] == "Alice"
        assert message["room"] == "lobby" and message["client_id"] == "c-1"
        event = await next_event(bob_ws)
        assert event["event"] == "chat.message" and event["topic"] == LOBBY
        assert event["data"] == {"message": message} and isinstance(event["seq"], int)
        assert (await next_event(alice_ws))["data"] == {"message": message}  # the sender too
        # A retry with the same client_id returns the first message and announces nothing.
        again = await alice_ws.request("chat.send", LOBBY, {"body": "hi", "client_id": "c-1"})
        assert again["message"] == message
        await assert_no_chat_events(bob_ws)
    assert await sync_to_async(Message.objects.count)() == 1


async def test_edit_and_delete_publish_events_and_errors_name_the_field(lobby, user, owner):
    async with connect_ws(user) as ws, connect_ws(owner) as owner_ws:
        await ws.request("subscribe", LOBBY)
        await owner_ws.request("subscribe", LOBBY)
        sent = (await ws.request("chat.send", LOBBY, {"body": "draft", "client_id": "a"}))["message"]
        await next_event(owner_ws)
        edited = (await ws.request("chat.edit", LOBBY, {"id": sent["id"], "body": "final"}))["message"]
        assert edited["body"] == "final" and edited["edited_at"]
        event = await next_event(owner_ws)
        assert event["event"] == "chat.edited" and event["data"]["message"] == edited
        error = await error_of(owner_ws.request("chat.edit", LOBBY, {"id": sent["id"], "body": "x"}))
        assert error["code"] == "forbidden"
        error = await error_of(ws.request("chat.edit", LOBBY, {"id": sent["id"], "body": "   "}))
        assert error == {"code": "invalid", "message": "body must be 1-4000 characters.", "field": "body"}
        error = await error_of(ws.request("chat.send", LOBBY, {"body": "x" * 4001, "client_id": "b"}))
        assert error["code"] == "invalid" and error["field"] == "body"
        error = await error_of(ws.request("chat.delete", LOBBY, {"id": "7"}))
        assert error["code"] == "invalid" and error["field"] == "id"
        error = await error_of(ws.request("chat.delete", LOBBY, {"id": 999999}))
        assert error["code"] == "not_found"
        tomb = (await owner_ws.request("chat.delete", LOBBY, {"id": sent["id"]}))["message"]
        assert tomb["deleted"] is True and tomb["body"] == ""
        events = [e for e in [await next_event(ws) for _ in range(3)] if e["event"] == "chat.deleted"]
        assert events[0]["data"]["message"] == tomb


async def test_history_pages_back_newest_last_with_display_names(lobby, user):
    for i in range(5):
        await sync_to_async(services.message_create)(room=lobby, author=user, body=f"m{i}", client_id=f"{i}")
    async with connect_ws(origin=ORIGIN) as anon:  # anonymous readers may read public rooms
        page = await anon.request("chat.history", LOBBY, {"limit": 3})
        assert [m["body"] for m in page["messages"]] == ["m2", "m3", "m4"] and page["has_more"]
        assert page["messages"][0]["author"]["display_name"] == "Alice"
        older = await anon.request("chat.history", LOBBY, {"before": page["messages"][0]["id"]})
        assert [m["body"] for m in older["messages"]] == ["m0", "m1"] and not older["has_more"]
        error = await error_of(anon.request("chat.history", LOBBY, {"limit": 101}))
        assert error["code"] == "invalid" and error["field"] == "limit"
        error = await error_of(anon.request("chat.send", LOBBY, {"body": "hi", "client_id": "a"}))
        assert error["code"] == "unauthenticated"


async def test_read_stores_the_position(lobby, user, owner):
    message = await sync_to_async(services.message_create)(room=lobby, author=owner, body="hi", client_id="a")
    await sync_to_async(services.member_add)(room=lobby, actor=owner, user=user)
    async with connect_ws(user) as ws:
        reply = await ws.request("chat.read", LOBBY, {"message_id": message.pk})
        assert reply == {"last_read_message_id": message.pk}
        error = await error_of(ws.request("chat.read", LOBBY, {}))
        assert error["field"] == "message_id"
    membership = await sync_to_async(RoomMembership.objects.get)(room=lobby, user=user)
    assert membership.last_read_message_id == message.pk


async def test_private_room_is_not_found_for_outsiders_whatever_they_try(secret, lobby, owner, user):
    create = sync_to_async(services.message_create)
    hidden = await create(room=secret, author=owner, body="psst", client_id="a")
    async with connect_ws(user) as ws, connect_ws(origin=ORIGIN) as anon:
        for action, data in [("subscribe", {}), ("chat.history", {}), ("presence", {}),
                             ("chat.send", {"body": "hi", "client_id": "x"}),
                             ("chat.delete", {"id": hidden.pk}), ("chat.read", {"message_id": hidden.pk})]:
            error = await error_of(ws.request(action, "room:secret", data))
            assert error["code"] == "not_found", action
        assert (await error_of(anon.request("subscribe", "room:secret")))["code"] == "not_found"
        assert (await error_of(ws.request("subscribe", "room:nowhere")))["code"] == "not_found"
        # Guessing the id through a room one may write to finds nothing either.
        for action, data in [("chat.edit", {"id": hidden.pk, "body": "x"}),
                             ("chat.delete", {"id": hidden.pk}), ("chat.read", {"message_id": hidden.pk})]:
            assert (await error_of(ws.request(action, LOBBY, data)))["code"] == "not_found"
    await sync_to_async(hidden.refresh_from_db)()
    assert hidden.body == "psst" and not hidden.deleted


async def test_removed_member_loses_the_subscription_at_once(secret, owner, user):
    await sync_to_async(services.member_add)(room=secret, actor=owner, user=user)
    async with connect_ws(user) as ws:
        await ws.request("subscribe", "room:secret")
        await ws.request("chat.send", "room:secret", {"body": "hi", "client_id": "a"})
        await next_event(ws)  # its own chat.message
        await sync_to_async(services.member_remove)(room=secret, actor=owner, user=user)
        names = [(await next_event(ws))["event"] for _ in range(2)]
        assert names == ["member.removed", "subscription.revoked"]
        error = await error_of(ws.request("chat.send", "room:secret", {"body": "still?", "client_id": "b"}))
        assert error["code"] == "not_found"


async def test_typing_reaches_the_others_once_per_two_seconds_and_not_the_typer(lobby, user, make_user):
    bob = await sync_to_async(make_user)("bob")
    async with connect_ws(user) as ws, connect_ws(bob) as bob_ws, connect_ws(user) as other_tab:
        error = await error_of(ws.request("chat.typing", LOBBY))
        assert error["code"] == "not_subscribed"
        for conn in (ws, bob_ws, other_tab):
            await conn.request("subscribe", LOBBY)
        ws.events.clear()
        assert await ws.request("chat.typing", LOBBY) == {"forwarded": True}
        event = await next_event(bob_ws)
        assert event == {"type": "event", "topic": LOBBY, "event": "chat.typing", "seq": None,
                         "data": {"user": {"id": user.pk, "username": "alice", "display_name": "Alice"}}}
        # Within 2 s nothing more is forwarded, from this tab or another of the user's.
        assert await ws.request("chat.typing", LOBBY) == {"forwarded": False}
        assert await other_tab.request("chat.typing", LOBBY) == {"forwarded": False}
        await assert_no_chat_events(bob_ws)
        await assert_no_chat_events(ws)
        # Bob typing is a different user: forwarded.
        assert await bob_ws.request("chat.typing", LOBBY) == {"forwarded": True}
        assert (await next_event(ws))["data"]["user"]["id"] == bob.pk


async def test_typing_is_forwarded_again_after_the_interval(lobby, user, make_user, monkeypatch):
    from chat import handlers

    monkeypatch.setattr(handlers, "TYPING_INTERVAL_SECONDS", 0.2)
    bob = await sync_to_async(make_user)("bob")
    async with connect_ws(user) as ws, connect_ws(bob) as bob_ws:
        await ws.request("subscribe", LOBBY)
        await bob_ws.request("subscribe", LOBBY)
        assert (await ws.request("chat.typing", LOBBY))["forwarded"]
        await asyncio.sleep(0.3)
        assert (await ws.request("chat.typing", LOBBY))["forwarded"]
        assert [(await next_event(bob_ws))["event"] for _ in range(2)] == ["chat.typing"] * 2


async def test_resume_with_since_gets_exactly_the_missed_messages_in_order(lobby, user, owner):
    async with connect_ws(user) as ws:
        await ws.request("subscribe", LOBBY)
        await ws.request("chat.send", LOBBY, {"body": "before", "client_id": "a"})
        last_seq = (await next_event(ws))["seq"]
    create = sync_to_async(services.message_create)
    missed = [await create(room=lobby, author=owner, body=f"missed {i}", client_id=f"m{i}") for i in range(3)]
    await sync_to_async(services.message_edit)(message=missed[0], editor=owner, body="missed 0 (edited)")
    async with connect_ws(user) as ws:
        reply = await ws.request("subscribe", LOBBY, {"since": last_seq})
        assert reply["recovered"] is True and reply["seq"] == last_seq + 4
        replayed = ws.events[:]
        ws.events.clear()
        assert [e["seq"] for e in replayed] == list(range(last_seq + 1, last_seq + 5))
        assert [(e["event"], e["data"]["message"]["body"]) for e in replayed] == [
            # The stored chat.message of an edited message carries its current text.
            ("chat.message", "missed 0 (edited)"), ("chat.message", "missed 1"),
            ("chat.message", "missed 2"), ("chat.edited", "missed 0 (edited)")]
        await create(room=lobby, author=owner, body="live", client_id="live")
        live = await next_event(ws)
        assert live["seq"] == last_seq + 5 and live["data"]["message"]["body"] == "live"
        assert await ws.expect_silence()


async def test_room_updates_reach_subscribers_and_archiving_stops_writes(lobby, owner, user):
    async with connect_ws(user) as ws:
        await ws.request("subscribe", LOBBY)
        await sync_to_async(services.room_archive)(room=lobby, actor=owner)
        event = await next_event(ws)
        assert event["event"] == "room.updated" and event["data"]["room"]["archived"] is True
        error = await error_of(ws.request("chat.send", LOBBY, {"body": "hi", "client_id": "a"}))
        assert error["code"] == "forbidden"


async def test_making_a_room_private_revokes_present_non_members_only(lobby, owner, user, make_user):
    bob = await sync_to_async(make_user)("bob")
    async with connect_ws(user) as member_ws, connect_ws(bob) as bob_ws:
        await member_ws.request("chat.send", LOBBY, {"body": "I live here", "client_id": "a"})  # joins
        await member_ws.request("subscribe", LOBBY)
        await bob_ws.request("subscribe", LOBBY)
        await sync_to_async(services.room_update)(room=lobby, actor=owner, is_private=True)
        assert (await next_event(bob_ws))["event"] == "room.updated"
        assert (await next_event(bob_ws))["event"] == "subscription.revoked"
        assert (await next_event(member_ws))["event"] == "room.updated"
        await assert_no_chat_events(member_ws)
        assert (await error_of(bob_ws.request("subscribe", LOBBY)))["code"] == "not_found"


async def test_making_a_room_private_revokes_anonymous_readers_of_chat_and_board(owner, lobby):
    from chat import services as chat_services

    async with connect_ws(origin="http://localhost") as ws:
        await ws.request("subscribe", "room:lobby")
        await ws.request("subscribe", "board:lobby")
        await sync_to_async(chat_services.room_update)(room=lobby, actor=owner, is_private=True)
        revoked = set()
        while len(revoked) < 2:  # room.updated comes too (anonymous readers may see it)
            event = await ws.next_event()
            if event["event"] == "subscription.revoked":
                revoked.add(event["topic"])
        assert revoked == {"room:lobby", "board:lobby"}


async def test_a_room_made_private_is_refused_at_once_to_new_subscribers_on_a_process_that_cached_it_public(
        lobby, owner, user, make_user):
    carol = await sync_to_async(make_user)("carol")
    async with connect_ws(user) as ws:
        await ws.request("subscribe", LOBBY)  # the process now holds "lobby is public"
        await sync_to_async(services.room_update)(room=lobby, actor=owner, is_private=True)
        assert (await next_event(ws))["event"] == "room.updated"
        assert (await next_event(ws))["event"] == "subscription.revoked"  # reauthorize ran
        async with connect_ws(carol) as fresh:
            assert (await error_of(fresh.request("subscribe", LOBBY)))["code"] == "not_found"


async def test_a_reconnect_storm_onto_one_room_asks_the_database_once(lobby, user, monkeypatch):
    """Thirty sockets subscribing at once: one "is it public?" query and one latest-seq read
    serve them all (realtime.hub single-flights both), and every reply agrees."""
    import dataclasses

    from realtime import store
    from realtime.registry import topic_kinds

    calls = {"public": 0, "resume": 0}
    kind = topic_kinds["room"]

    def counting_public(key):
        calls["public"] += 1
        return kind.public_read(key)

    real_resume = store.resume_state

    def counting_resume(topic, since):
        calls["resume"] += 1
        return real_resume(topic, since)

    monkeypatch.setitem(topic_kinds, "room", dataclasses.replace(kind, public_read=counting_public))
    monkeypatch.setattr(store, "resume_state", counting_resume)
    async with contextlib.AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(connect_ws(user)) for _ in range(30)]
        replies = await asyncio.gather(*(ws.request("subscribe", LOBBY) for ws in sockets))
    assert len({reply["seq"] for reply in replies}) == 1
    assert calls["public"] == 1 and calls["resume"] == 1
