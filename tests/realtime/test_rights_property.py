"""Property: whatever sequence of rights changes happens (staff on/off, permission
add/remove, membership add/remove, room private/public), what one open socket may read
equals what REST lets the same user read, after every step (within a second of it)."""

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from chat import services as chat
from chat.models import RoomMembership
from feeds.models import Feed
from tests.ws import ProtocolErrorFrame, connect_ws

pytestmark = pytest.mark.django_db(transaction=True)
# A change reaches the socket within this (the bound).
AGREE_WITHIN_SECONDS = 1.0
CHANGES = ("staff_on", "staff_off", "perm_add", "perm_remove", "member_add", "member_remove",
           "room_private", "room_public")
# (socket topic, REST path) pairs compared at every step.
READS = (("room:secret", "/api/rooms/secret/messages/"), ("feed:ops", "/api/feeds/ops/items/"))


def _apply(change, reader, owner, room, permission):
    """One rights change, through the same services / model paths the site uses."""
    if change in ("staff_on", "staff_off"):
        reader.is_staff = change == "staff_on"
        reader.save()
    elif change == "perm_add":
        reader.user_permissions.add(permission)
    elif change == "perm_remove":
        reader.user_permissions.remove(permission)
    elif change == "member_add":
        chat.member_add(room=room, actor=owner, user=reader)
    elif change == "member_remove":
        if RoomMembership.objects.filter(room=room, user=reader).exists():
            chat.member_remove(room=room, actor=owner, user=reader)
    else:
        room.refresh_from_db()
        chat.room_update(room=room, actor=owner, is_private=change == "room_private")


def _rest_reads(reader):
    client = APIClient()
    client.force_authenticate(type(reader).objects.get(pk=reader.pk))
    return {topic: client.get(path).status_code == 200 for topic, path in READS}


async def _socket_reads(ws):
    found = {}
    for topic, _ in READS:
        try:
            await ws.request("subscribe", topic)
            await ws.request("unsubscribe", topic)
            found[topic] = True
        except ProtocolErrorFrame as err:
            assert err.code in ("forbidden", "not_found")
            found[topic] = False
    return found


async def _scenario(changes, reader, owner, room, permission):
    from realtime.hub import close_hub

    try:
        async with connect_ws(reader) as ws:
            for change in changes:
                await sync_to_async(_apply)(change, reader, owner, room, permission)
                expected = await sync_to_async(_rest_reads)(reader)
                until = time.monotonic() + AGREE_WITHIN_SECONDS
                while (seen := await _socket_reads(ws)) != expected:
                    assert time.monotonic() < until, (change, expected, seen)
                    await asyncio.sleep(0.02)
    finally:
        await close_hub()


@pytest.fixture
def world(make_user):
    owner = make_user("olga")
    reader = make_user("rita")
    room = chat.room_create(creator=owner, slug="secret", name="Secret", is_private=True)
    Feed.objects.create(slug="ops", title="Ops", is_public=False)
    permission = Permission.objects.get(codename="view_private_feed")
    return reader, owner, room, permission


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.lists(st.sampled_from(CHANGES), min_size=1, max_size=8))
def test_the_socket_reads_what_rest_reads_after_every_rights_change(world, changes):
    reader, owner, room, permission = world
    # Each example starts from the same rights: no staff, no permission, no membership.
    for change in ("staff_off", "perm_remove", "member_remove", "room_private"):
        _apply(change, reader, owner, room, permission)
    asyncio.run(_scenario(changes, reader, owner, room, permission))
