"""Viewing a room never makes the viewer a member, so making it private (over REST or in the
admin) shuts viewers out; the admin's announcement needs the change permission and is
logged in the admin history."""

import pytest
from asgiref.sync import sync_to_async
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.test import Client

from chat import services
from chat.models import Message, Room, RoomMembership
from tests.ws import connect_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]
LOBBY = "room:lobby"


async def next_revocation(ws, topic):
    """The next subscription.revoked of topic (chat and presence events may come first)."""
    while True:
        event = await ws.next_event()
        if event["event"] == "subscription.revoked" and event["topic"] == topic:
            return event


async def test_chat_read_by_a_viewer_is_a_no_op_and_never_a_membership(lobby, owner, user):
    message = await sync_to_async(services.message_create)(room=lobby, author=owner, body="hi",
                                                           client_id="a")
    async with connect_ws(user) as ws:
        await ws.request("subscribe", LOBBY)
        reply = await ws.request("chat.read", LOBBY, {"message_id": message.pk})
        assert reply == {"last_read_message_id": None}  # ok, not an error: no client noise
    assert not await sync_to_async(RoomMembership.objects.filter(room=lobby, user=user).exists)()


async def test_a_viewer_loses_a_room_made_private_over_rest(lobby, owner, user, api_as):
    message = await sync_to_async(services.message_create)(room=lobby, author=owner, body="hi",
                                                           client_id="a")
    viewer_api, owner_api = await sync_to_async(api_as)(user), await sync_to_async(api_as)(owner)
    async with connect_ws(user) as ws:
        await ws.request("subscribe", LOBBY)
        await ws.request("chat.read", LOBBY, {"message_id": message.pk})
        response = await sync_to_async(owner_api.patch)("/api/rooms/lobby/", {"is_private": True},
                                                        format="json")
        assert response.status_code == 200
        assert (await next_revocation(ws, LOBBY))["data"] == {}
    for path in ("/api/rooms/lobby/", "/api/rooms/lobby/messages/"):
        response = await sync_to_async(viewer_api.get)(path)
        assert response.status_code == 404 and b"hi" not in response.content


def superuser_client(staff):
    staff.is_superuser = True
    staff.save()
    client = Client()
    client.force_login(staff)
    return client


async def test_a_room_made_private_in_the_admin_revokes_anonymous_viewers(lobby, owner, staff):
    client = await sync_to_async(superuser_client)(staff)
    membership = await sync_to_async(RoomMembership.objects.get)(room=lobby, user=owner)
    form = {"name": "Lobby", "description": "", "is_private": "on", "_save": "1",
            "memberships-TOTAL_FORMS": "1", "memberships-INITIAL_FORMS": "1",
            "memberships-MIN_NUM_FORMS": "0", "memberships-MAX_NUM_FORMS": "1000",
            "memberships-0-id": str(membership.pk), "memberships-0-room": str(lobby.pk),
            "memberships-0-user": str(owner.pk), "memberships-0-role": "owner"}
    async with connect_ws(origin="http://localhost") as anonymous:
        await anonymous.request("subscribe", LOBBY)
        response = await sync_to_async(client.post)(f"/admin/chat/room/{lobby.pk}/change/", form)
        assert response.status_code == 302
        await next_revocation(anonymous, LOBBY)
        await sync_to_async(services.message_create)(room=await sync_to_async(Room.objects.get)(
            pk=lobby.pk), author=owner, body="members only", client_id="b")
        assert await anonymous.expect_silence(0.5)


def test_the_announcement_needs_the_change_permission_and_is_logged(lobby, secret, make_user):
    moderator = make_user("mod", is_staff=True)
    moderator.user_permissions.add(Permission.objects.get(codename="view_room"))
    client = Client()
    client.force_login(moderator)
    form = {"action": "post_announcement", "_selected_action": [lobby.pk, secret.pk],
            "apply": "1", "body": "Hello all", "client_id": "announce-1"}
    client.post("/admin/chat/room/", form)
    assert not Message.objects.exists()  # view-only staff: the action is not theirs
    changelist = client.get("/admin/chat/room/")
    assert b"post_announcement" not in changelist.content

    moderator.user_permissions.add(Permission.objects.get(codename="change_room"))
    client.force_login(moderator)  # a fresh permission cache
    assert b"post_announcement" in client.get("/admin/chat/room/").content
    assert client.post("/admin/chat/room/", form).status_code == 302
    assert sorted(Message.objects.values_list("room__slug", "body")) == \
        [("lobby", "Hello all"), ("secret", "Hello all")]
    logged = LogEntry.objects.filter(user=moderator).order_by("object_id")
    assert sorted(entry.object_id for entry in logged) == sorted([str(lobby.pk), str(secret.pk)])
    assert all("announcement" in entry.get_change_message() for entry in logged)
