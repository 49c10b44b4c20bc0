"""Accessibility checked with axe-core (tests/e2e/axe.py) on every page, as users get it
(DEBUG off, the Content-Security-Policy in force): no serious or critical violation."""

import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.axe import assert_accessible, violations
from tests.e2e.conftest import connected

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_home_page_is_accessible(open_page, user):
    from chat.models import Room

    Room.objects.create(slug=f"a-{uuid.uuid4().hex[:10]}", name="Lobby", created_by=user)
    page = open_page(user, "/")
    connected(page)
    expect(page.get_by_text("Lobby").first).to_be_visible()
    assert_accessible(page)


@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/signup/", "/admin/login/"])
def test_the_sign_in_pages_are_accessible(open_page, path):
    page = open_page(None, path)
    expect(page.locator("form").last).to_be_visible()
    assert_accessible(page)


def test_a_room_with_its_board_and_messages_is_accessible(open_page, user, make_user):
    from chat.models import Room, RoomMembership

    room = Room.objects.create(slug=f"a-{uuid.uuid4().hex[:10]}", name="Sketches", created_by=user)
    RoomMembership.objects.create(room=room, user=user, role=RoomMembership.OWNER)
    bob = make_user("bob")
    bob_page = open_page(bob, f"/rooms/{room.slug}/")
    connected(bob_page)
    page = open_page(user, f"/rooms/{room.slug}/")
    connected(page)
    expect(page.get_by_label("Whiteboard", exact=True)).to_have_attribute("data-ready", "true")
    page.get_by_label("Message", exact=True).fill("Hello, board")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#messages li")).to_have_count(1)
    expect(page.locator("#presence li")).to_have_count(2)  # avatars and presence colours shown
    assert_accessible(page)
    # A read-only view of the same room (anonymous: log in to post, tools disabled).
    anonymous = open_page(None, f"/rooms/{room.slug}/")
    connected(anonymous)
    expect(anonymous.locator("#messages li")).to_have_count(1)
    assert_accessible(anonymous)


def test_a_feed_is_accessible(open_page):
    from django.utils import timezone

    from feeds.models import Feed, FeedItem

    now = timezone.now()
    feed = Feed.objects.create(slug=f"f-{uuid.uuid4().hex[:10]}", title="Deploys", is_public=True)
    FeedItem.objects.create(feed=feed, external_id="e1", kind="deploy", title="Release 42",
                            body="Rolled out.", url="https://example.com/42", version=1,
                            occurred_at=now, created_at=now, updated_at=now)
    page = open_page(None, f"/feeds/{feed.slug}/")
    connected(page)
    expect(page.locator("#feed-items li")).to_have_count(1)
    assert_accessible(page)


def test_axe_finds_a_violation_when_there_is_one(open_page):
    """The check can fail: an image button without a name is reported as critical."""
    page = open_page(None, "/accounts/login/")
    page.evaluate("""() => { const b = document.createElement('button');
                            b.id = 'nameless'; document.querySelector('main').append(b); }""")
    found = {v["id"]: v for v in violations(page)}
    assert "button-name" in found and found["button-name"]["impact"] == "critical", found
