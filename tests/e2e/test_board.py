"""The whiteboard between real browsers: a stroke is visible to others while it is drawn,
stays when finished, and a late joiner sees it."""

import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import connected

pytestmark = pytest.mark.django_db(transaction=True)

# Is the canvas pixel under board point (x, y) painted (not the transparent background)?
PAINTED = """([x, y]) => {
  const canvas = document.getElementById("board-canvas");
  const scale = canvas.width / 1600;
  const d = canvas.getContext("2d").getImageData(Math.round(x * scale), Math.round(y * scale), 1, 1).data;
  return d[3] > 0;
}"""


@pytest.fixture
def room(user):
    from chat.models import Room, RoomMembership

    room = Room.objects.create(slug=f"b-{uuid.uuid4().hex[:10]}", name="Sketches", created_by=user)
    RoomMembership.objects.create(room=room, user=user, role=RoomMembership.OWNER)
    return room


def open_board(open_page, user, room):
    page = open_page(user, f"/rooms/{room.slug}/")
    connected(page)
    canvas = page.get_by_label("Whiteboard", exact=True)
    expect(canvas).to_have_attribute("data-ready", "true")
    return page, canvas


def board_to_screen(canvas, x, y):
    box = canvas.bounding_box()
    return box["x"] + x * box["width"] / 1600, box["y"] + y * box["height"] / 1000


def test_a_stroke_appears_while_drawn_and_a_late_joiner_sees_it(open_page, user, make_user, room):
    bob, carol = make_user("bob"), make_user("carol")
    alice_page, alice_canvas = open_board(open_page, user, room)
    bob_page, bob_canvas = open_board(open_page, bob, room)

    mouse = alice_page.mouse
    mouse.move(*board_to_screen(alice_canvas, 200, 300))
    mouse.down()
    for step in range(1, 21):
        mouse.move(*board_to_screen(alice_canvas, 200 + step * 20, 300 + step * 5))
        alice_page.wait_for_timeout(15)
    # Not released yet: Bob already sees the stroke growing (board.stroke).
    expect(bob_canvas).to_have_attribute("data-live", "1")
    assert bob_page.evaluate(PAINTED, [400, 350])
    mouse.up()
    expect(bob_canvas).to_have_attribute("data-shapes", "1")
    expect(bob_canvas).to_have_attribute("data-live", "0")
    assert bob_page.evaluate(PAINTED, [400, 350])
    assert not bob_page.evaluate(PAINTED, [1200, 800])

    carol_page, carol_canvas = open_board(open_page, carol, room)
    expect(carol_canvas).to_have_attribute("data-shapes", "1")
    assert carol_page.evaluate(PAINTED, [400, 350])
    # Others' cursors carry names.
    alice_page.mouse.move(*board_to_screen(alice_canvas, 800, 500))
    alice_page.mouse.move(*board_to_screen(alice_canvas, 810, 505))
    expect(carol_page.locator("#board-cursors .cursor-name")).to_have_text("Alice")


def test_shapes_can_be_drawn_and_undone_from_the_keyboard(open_page, user, make_user, room):
    bob = make_user("bob")
    alice_page, alice_canvas = open_board(open_page, user, room)
    bob_page, bob_canvas = open_board(open_page, bob, room)
    alice_page.get_by_role("radio", name="Rectangle").click()
    alice_canvas.focus()
    alice_canvas.press("Enter")
    for _ in range(4):
        alice_canvas.press("Shift+ArrowRight")
        alice_canvas.press("Shift+ArrowDown")
    alice_canvas.press("Enter")
    expect(bob_canvas).to_have_attribute("data-shapes", "1")
    alice_page.get_by_role("button", name="Undo").click()
    expect(bob_canvas).to_have_attribute("data-shapes", "0")
    alice_page.get_by_role("button", name="Redo").click()
    expect(bob_canvas).to_have_attribute("data-shapes", "1")
