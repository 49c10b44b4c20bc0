"""A room above REALTIME_PRESENCE_LIST_MAX (100) in a real browser: the member list shows
the count, and the list a page at a time on demand."""

import time
import uuid

import orjson
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import connected

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_crowded_room_shows_the_count_and_pages_the_list_on_demand(open_page, user):
    from chat.models import Room, RoomMembership
    from realtime import presence
    from realtime.redis import sync_client

    room = Room.objects.create(slug=f"r-{uuid.uuid4().hex[:10]}", name="Hall", created_by=user)
    RoomMembership.objects.create(room=room, user=user, role=RoomMembership.OWNER)
    # 120 others present (their leases outlive the test), so the browser's join makes 121.
    # Written with the same script a socket's join runs (this thread has Playwright's loop).
    now = time.time()
    for i in range(120):
        info = {"id": 1_000_000 + i, "username": f"crowd{i}", "display_name": f"Crowd {i:03d}"}
        sync_client().eval(presence.JOIN, 3, *presence._keys(room.topic, info["id"]), info["id"],
                           f"crowd-conn-{i}", now + 600, now, orjson.dumps(info), 1200, -1)
    page = open_page(user, f"/rooms/{room.slug}/")
    connected(page)
    expect(page.locator("#presence .presence-count")).to_have_text("121 people here")
    page.get_by_role("button", name="Show who is here").click()
    expect(page.locator("#presence li[data-user]")).to_have_count(100)
    page.get_by_role("button", name="Show more").click()
    expect(page.locator("#presence li[data-user]")).to_have_count(121)
    expect(page.locator("#presence")).to_contain_text(user.get_display_name())
    expect(page.get_by_role("button", name="Show more")).to_have_count(0)
