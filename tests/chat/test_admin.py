"""Admin changes go through the services: they reach subscribed sockets as events."""

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from chat import services
from chat.models import Message, Room, RoomMembership
from tests.ws import connect_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]
LOBBY = "room:lobby"


def admin_client(staff):
    staff.is_superuser = True  # the admin's model permissions
    staff.save()
    client = Client()
    client.force_login(staff)
    return client


async def next_chat_event(ws):
    while True:
        event = await ws.next_event()
        if not event["event"].startswith("presence."):
            return event


create = sync_to_async(services.message_create)


async def test_editing_and_deleting_in_the_admin_reach_a_subscribed_socket(lobby, user, staff):
    message = await create(room=lobby, author=user, body="spam?", client_id="a")
    client = await sync_to_async(admin_client)(staff)
    url = f"/admin/chat/message/{message.pk}/change/"
    async with connect_ws(user) as ws:
        await ws.request("subscribe", LOBBY)
        resp = await sync_to_async(client.post)(url, {"body": "edited by staff", "_save": "1"})
        assert resp.status_code == 302
        event = await next_chat_event(ws)
        assert event["event"] == "chat.edited" and event["data"]["message"]["body"] == "edited by staff"
        delete = {"body": "edited by staff", "deleted": "on", "_save": "1"}
        resp = await sync_to_async(client.post)(url, delete)
        assert resp.status_code == 302
        event = await next_chat_event(ws)
        assert event["event"] == "chat.deleted" and event["data"]["message"]["body"] == ""
    await sync_to_async(message.refresh_from_db)()
    assert message.deleted and message.edited_at is not None


async def test_the_admin_delete_view_soft_deletes_and_publishes(lobby, user, staff):
    message = await create(room=lobby, author=user, body="bye", client_id="a")
    client = await sync_to_async(admin_client)(staff)
    async with connect_ws(user) as ws:
        await ws.request("subscribe", LOBBY)
        resp = await sync_to_async(client.post)(f"/admin/chat/message/{message.pk}/delete/", {"post": "yes"})
        assert resp.status_code == 302
        event = await next_chat_event(ws)
        assert event["event"] == "chat.deleted" and event["data"]["message"]["id"] == message.pk
    assert await sync_to_async(Message.objects.filter(pk=message.pk, deleted=True).exists)()


async def test_announcement_action_posts_to_each_selected_room_once(lobby, secret, owner, user, staff):
    client = await sync_to_async(admin_client)(staff)
    form = {"action": "post_announcement", "_selected_action": [lobby.pk, secret.pk]}
    page = await sync_to_async(client.post)("/admin/chat/room/", form)
    assert page.status_code == 200 and b"Post announcement" in page.content
    client_id = page.context["form"].initial["client_id"]
    async with connect_ws(user) as ws:
        await ws.request("subscribe", LOBBY)
        done = {**form, "apply": "1", "body": "Maintenance at 18:00", "client_id": client_id}
        resp = await sync_to_async(client.post)("/admin/chat/room/", done)
        assert resp.status_code == 302
        event = await next_chat_event(ws)
        assert event["event"] == "chat.message"
        assert event["data"]["message"]["body"] == "Maintenance at 18:00"
        assert event["data"]["message"]["author"]["username"] == "staffer"
        await sync_to_async(client.post)("/admin/chat/room/", done)  # submitted twice
    bodies = await sync_to_async(lambda: sorted(Message.objects.values_list("room__slug", "body")))()
    assert bodies == [("lobby", "Maintenance at 18:00"), ("secret", "Maintenance at 18:00")]


async def test_room_admin_changes_and_membership_inline_publish(secret, owner, user, staff):
    client = await sync_to_async(admin_client)(staff)
    membership = await sync_to_async(RoomMembership.objects.get)(room=secret, user=owner)
    form = {
        "name": "Secret plans", "description": "", "is_private": "on", "_save": "1",
        "memberships-TOTAL_FORMS": "2", "memberships-INITIAL_FORMS": "1",
        "memberships-MIN_NUM_FORMS": "0", "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-id": str(membership.pk), "memberships-0-room": str(secret.pk),
        "memberships-0-user": str(owner.pk), "memberships-0-role": "owner",
        "memberships-1-room": str(secret.pk), "memberships-1-user": str(user.pk),
        "memberships-1-role": "member",
    }
    async with connect_ws(owner) as ws:
        await ws.request("subscribe", "room:secret")
        resp = await sync_to_async(client.post)(f"/admin/chat/room/{secret.pk}/change/", form)
        assert resp.status_code == 302, resp.content[:2000]
        events = [await next_chat_event(ws) for _ in range(2)]
        assert [e["event"] for e in events] == ["room.updated", "member.added"]
        assert events[0]["data"]["room"]["name"] == "Secret plans"
        assert events[1]["data"]["member"]["user"]["id"] == user.pk


def test_room_admin_add_makes_the_staff_user_owner(staff):
    client = admin_client(staff)
    resp = client.post("/admin/chat/room/add/", {
        "slug": "ops", "name": "Ops", "description": "", "_save": "1",
        "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0", "memberships-MAX_NUM_FORMS": "1000"})
    assert resp.status_code == 302
    room = Room.objects.get(slug="ops")
    assert room.created_by == staff
    assert RoomMembership.objects.get(room=room, user=staff).role == "owner"


def test_message_admin_searches_and_filters(lobby, user, staff):
    services.message_create(room=lobby, author=user, body="needle here", client_id="a")
    services.message_create(room=lobby, author=staff, body="hay", client_id="b")
    client = admin_client(staff)
    assert b"needle here" in client.get("/admin/chat/message/?q=needle").content
    found = client.get("/admin/chat/message/?q=staffer")
    assert b"hay" in found.content and b"needle" not in found.content
    assert client.get(f"/admin/chat/message/?room__id__exact={lobby.pk}").status_code == 200
    assert client.get("/admin/chat/message/?created_at__year=2000").status_code == 200
