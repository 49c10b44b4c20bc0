"""Log-in through the real form, the home page and the connection indicator."""

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import connected

pytestmark = pytest.mark.django_db(transaction=True)


def test_log_in_through_the_form_reaches_home_with_a_live_connection(open_page, make_user):
    make_user("carol", display_name="Carol Jones")
    page = open_page(None, "/")
    page.get_by_label("Username").fill("carol")
    page.get_by_label("Password").fill("pw-carol")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Rooms")).to_be_visible()
    expect(page.get_by_text("Carol Jones")).to_be_visible()
    connected(page)
    expect(page.locator("#conn-status")).to_have_text("Connected")
    assert page.errors == []


def test_create_a_room_from_home_then_see_unread_counts_and_who_is_in_it(open_page, user, make_user):
    from chat import services
    from chat.models import Room

    page = open_page(user, "/")
    connected(page)
    slug = f"standup-{uuid.uuid4().hex[:6]}"
    page.get_by_label("Name").fill("Daily standup")
    address = page.get_by_label("Address")
    expect(address).to_have_value("daily-standup")
    address.fill(slug)
    page.get_by_role("button", name="Create room").click()
    expect(page).to_have_url(re.compile(f"/rooms/{slug}/$"))
    expect(page.get_by_role("heading", name="Daily standup")).to_be_visible()

    room = Room.objects.get(slug=slug)
    bob = make_user("bob", display_name="Bob Stone")
    bob_page = open_page(bob, f"/rooms/{slug}/")
    connected(bob_page)
    page.goto("/")  # Alice leaves the room; then Bob posts twice
    for n in range(2):
        services.message_create(room=room, author=bob, body=f"update {n}")
    page.reload()
    card = page.locator(f'li.room-card[data-slug="{slug}"]')
    expect(card.locator(".unread")).to_have_text("2")
    expect(card.locator(".room-people")).to_contain_text("Bob Stone")
