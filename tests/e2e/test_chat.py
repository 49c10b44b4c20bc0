"""Chat between real browsers: delivery, typing, catching up after the network was cut,
and an XSS payload shown as text."""

import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import connected

pytestmark = pytest.mark.django_db(transaction=True)

XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


@pytest.fixture
def room(user):
    from chat.models import Room, RoomMembership

    room = Room.objects.create(slug=f"r-{uuid.uuid4().hex[:10]}", name="Planning", created_by=user)
    RoomMembership.objects.create(room=room, user=user, role=RoomMembership.OWNER)
    return room


def open_room(open_page, user, room):
    page = open_page(user, f"/rooms/{room.slug}/")
    connected(page)
    expect(page.locator("#presence")).to_contain_text(user.get_display_name())
    return page


def send(page, text):
    box = page.get_by_label("Message", exact=True)
    box.fill(text)
    box.press("Enter")


def bodies(page):
    return page.locator("#messages li.msg[data-id] .msg-body").all_inner_texts()


def test_a_message_sent_by_one_user_appears_for_the_other_and_typing_shows(open_page, user, make_user, room):
    bob = make_user("bob", display_name="Bob Stone")
    alice_page = open_room(open_page, user, room)
    bob_page = open_room(open_page, bob, room)
    expect(alice_page.locator("#presence")).to_contain_text("Bob Stone")

    bob_page.get_by_label("Message", exact=True).press_sequentially("hel")
    expect(alice_page.locator("#typing")).to_have_text("Bob Stone is typing…")

    send(alice_page, "Hello Bob, the plan is ready")
    expect(bob_page.locator("#messages")).to_contain_text("Hello Bob, the plan is ready")
    expect(bob_page.locator("#messages .msg-author").last).to_have_text("Alice")
    expect(alice_page.get_by_label("Message", exact=True)).to_have_value("")
    assert alice_page.errors == [] and bob_page.errors == []

    bob_page.close()  # bob's last tab: a presence.leave listing him
    expect(alice_page.locator("#presence")).not_to_contain_text("Bob Stone")
    expect(alice_page.locator("#presence")).to_contain_text(user.get_display_name())


def test_missed_messages_appear_once_each_in_order_after_reconnect(open_page, user, make_user, room):
    bob = make_user("bob")
    alice_page = open_room(open_page, user, room)
    bob_page = open_room(open_page, bob, room)
    send(alice_page, "before the cut")
    expect(bob_page.locator("#messages")).to_contain_text("before the cut")

    bob_page.context.set_offline(True)
    expect(bob_page.locator("#conn-status")).to_have_attribute("data-state", "offline")
    missed = [f"missed {n}" for n in range(1, 5)]
    for text in missed:
        send(alice_page, text)
        expect(alice_page.locator("#messages li.msg[data-id]").last).to_contain_text(text)
    bob_page.context.set_offline(False)
    connected(bob_page)
    expect(bob_page.locator("#messages li.msg[data-id]")).to_have_count(5)
    bob_page.wait_for_timeout(500)  # a late duplicate would show up here
    assert bodies(bob_page) == ["before the cut", *missed]


def test_an_xss_payload_is_shown_as_text(open_page, user, make_user, room):
    bob = make_user("bob")
    alice_page = open_room(open_page, user, room)
    bob_page = open_room(open_page, bob, room)
    send(alice_page, XSS)
    expect(bob_page.locator("#messages li.msg[data-id] .msg-body").last).to_have_text(XSS)
    assert bob_page.locator("#messages img, #messages script").count() == 0
    assert bob_page.evaluate("window.__xss === undefined")
    bob_page.reload()  # history renders it as text too
    expect(bob_page.locator("#messages li.msg[data-id] .msg-body").last).to_have_text(XSS)
    assert bob_page.locator("#messages img").count() == 0
    assert bob_page.evaluate("window.__xss === undefined")


def test_history_loads_earlier_pages_and_own_messages_can_be_edited_and_deleted(
        open_page, user, make_user, room):
    from chat import services

    bob = make_user("bob")
    for n in range(60):
        services.message_create(room=room, author=bob if n % 2 else user, body=f"old {n}")
    alice_page = open_room(open_page, user, room)
    bob_page = open_room(open_page, bob, room)
    expect(alice_page.locator("#messages li.msg[data-id]")).to_have_count(50)
    alice_page.get_by_role("button", name="Load earlier messages").click()
    expect(alice_page.locator("#messages li.msg[data-id]")).to_have_count(60)
    assert bodies(alice_page)[:2] == ["old 0", "old 1"]
    expect(alice_page.get_by_role("button", name="Load earlier messages")).to_be_hidden()

    send(alice_page, "tpyo here")
    mine = alice_page.locator("#messages li.msg.mine[data-id]").last
    expect(mine).to_contain_text("tpyo here")
    mine.hover()
    mine.get_by_role("button", name="Edit message").click()
    editor = alice_page.get_by_label("Edited text", exact=True)
    editor.fill("typo fixed")
    editor.press("Enter")
    last_for_bob = bob_page.locator("#messages li.msg[data-id]").last
    expect(last_for_bob.locator(".msg-body")).to_have_text("typo fixed")
    expect(last_for_bob).to_contain_text("(edited)")

    mine = alice_page.locator("#messages li.msg.mine[data-id]").last
    mine.hover()
    mine.get_by_role("button", name="Delete message").click()  # the confirm() is accepted
    expect(last_for_bob.locator(".msg-body")).to_have_text("This message was deleted.")
    # Bob may not edit or delete Alice's messages.
    assert bob_page.locator("#messages li.msg:not(.mine) button").count() == 0
