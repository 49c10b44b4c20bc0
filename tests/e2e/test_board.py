"""The whiteboard between real browsers: a stroke is visible to others while it is drawn,
stays when finished, and a late joiner sees it; undo of an erase brings back the same shape;
read-only viewers send no cursors; a failed snapshot is retried."""

import json
import re
import time
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


def watch_frames(page):
    """Every frame of the page's sockets, parsed: {"sent": [...], "received": [...]}.
    Must be called before the page opens its socket."""
    frames = {"sent": [], "received": []}

    def on_socket(ws):
        ws.on("framesent", lambda payload: frames["sent"].append(json.loads(payload)))
        ws.on("framereceived", lambda payload: frames["received"].append(json.loads(payload)))

    page.on("websocket", on_socket)
    return frames


def wait_until(page, condition, what, timeout=10.0):
    """Polls condition() (letting Playwright deliver events) until true or the deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        page.wait_for_timeout(25)


def draw_rect_from_keyboard(page, canvas):
    """From the crosshair's start (800, 500): a 200 x 200 rectangle; the crosshair ends at
    its corner (1000, 700)."""
    page.get_by_role("radio", name="Rectangle").click()
    canvas.focus()
    canvas.press("Enter")
    for _ in range(4):
        canvas.press("Shift+ArrowRight")
        canvas.press("Shift+ArrowDown")
    canvas.press("Enter")


def test_undoing_an_erase_redraws_the_same_shape_at_its_erased_version(open_page, user, make_user, room):
    from whiteboard.models import Shape

    bob = make_user("bob")
    alice_page = open_page(user, "/healthz")
    frames = watch_frames(alice_page)
    alice_page.goto(f"/rooms/{room.slug}/")
    alice_canvas = alice_page.get_by_label("Whiteboard", exact=True)
    expect(alice_canvas).to_have_attribute("data-ready", "true")
    bob_page, bob_canvas = open_board(open_page, bob, room)

    draw_rect_from_keyboard(alice_page, alice_canvas)
    expect(bob_canvas).to_have_attribute("data-shapes", "1")
    shape = Shape.objects.get(board=room)
    assert shape.version == 1
    alice_canvas.press("e")  # the eraser, at the crosshair: the rectangle's corner
    alice_canvas.press("Enter")
    expect(bob_canvas).to_have_attribute("data-shapes", "0")
    erase = [f for f in frames["sent"] if f.get("action") == "board.erase"]
    assert [f["data"] for f in erase] == [{"id": str(shape.shape_id), "version": 1}]
    shape.refresh_from_db()
    assert shape.deleted and shape.version == 2

    alice_page.get_by_role("button", name="Undo").click()
    expect(bob_canvas).to_have_attribute("data-shapes", "1")
    expect(alice_canvas).to_have_attribute("data-shapes", "1")
    # The same row, redrawn at the version the erase reported: no copy under a new id.
    assert Shape.objects.filter(board=room).count() == 1
    shape.refresh_from_db()
    assert not shape.deleted and shape.version == 3
    redraw = [f for f in frames["sent"] if f.get("action") == "board.draw"][-1]
    assert redraw["data"]["shape"]["id"] == str(shape.shape_id)
    assert redraw["data"]["shape"]["version"] == 2
    assert bob_page.evaluate(PAINTED, [900, 500])  # its top edge, drawn again for Bob

    alice_page.get_by_role("button", name="Redo").click()  # erases it again, at version 3
    expect(bob_canvas).to_have_attribute("data-shapes", "0")
    shape.refresh_from_db()
    assert shape.deleted and shape.version == 4
    assert not [f for f in frames["received"] if f.get("type") == "error"]


def test_a_read_only_viewer_moving_the_mouse_sends_no_cursor_and_gets_no_error(open_page, user, room):
    viewer = open_page(None, "/healthz")  # anonymous: may read the public room, not write
    frames = watch_frames(viewer)
    warnings = []
    viewer.on("console", lambda m: warnings.append(m.text) if "error frame" in m.text else None)
    viewer.goto(f"/rooms/{room.slug}/")
    connected(viewer)
    canvas = viewer.get_by_label("Whiteboard", exact=True)
    expect(canvas).to_have_attribute("data-ready", "true")
    alice_page, alice_canvas = open_board(open_page, user, room)
    alice_frames = watch_frames(alice_page)

    for step in range(40):
        viewer.mouse.move(*board_to_screen(canvas, 300 + step * 20, 300 + step * 5))
        viewer.wait_for_timeout(20)
    # A change after the moves: once the viewer has it, any reply to its moves would have come.
    draw_rect_from_keyboard(alice_page, alice_canvas)
    expect(canvas).to_have_attribute("data-shapes", "1")
    assert [f for f in frames["sent"] if f.get("action") == "board.cursor"] == []
    assert [f for f in frames["received"] if f.get("type") == "error"] == []
    assert warnings == []
    # The same moves by a writer do send cursors (the check above can see them).
    alice_page.reload()  # its socket now opens under watch_frames
    expect(alice_canvas).to_have_attribute("data-ready", "true")
    for step in range(5):
        alice_page.mouse.move(*board_to_screen(alice_canvas, 300 + step * 40, 300))
        alice_page.wait_for_timeout(80)
    wait_until(alice_page, lambda: any(f.get("action") == "board.cursor" for f in alice_frames["sent"]),
               "a writer's board.cursor frame")


def test_a_failed_snapshot_is_retried_and_shows_what_was_drawn_meanwhile(open_page, user, make_user, room):
    bob = make_user("bob")
    bob_page, bob_canvas = open_board(open_page, bob, room)
    alice_page = open_page(user, "/healthz")
    snapshots = []
    held = []

    def route(ws):
        server = ws.connect_to_server()

        def from_page(message):
            frame = json.loads(message)
            if frame.get("action") == "board.snapshot":
                snapshots.append(frame)
                if len(snapshots) == 1:
                    held.append((ws, frame))  # answered below, after Bob has drawn
                    return
            server.send(message)

        ws.on_message(from_page)

    alice_page.route_web_socket(re.compile(r"^wss?://"), route)
    alice_page.goto(f"/rooms/{room.slug}/")
    alice_canvas = alice_page.get_by_label("Whiteboard", exact=True)
    wait_until(alice_page, lambda: held, "alice's first board.snapshot")
    expect(alice_canvas).to_have_attribute("data-ready", "false")

    draw_rect_from_keyboard(bob_page, bob_canvas)  # while Alice's board waits
    expect(bob_canvas).to_have_attribute("data-shapes", "1")
    ws, frame = held[0]
    ws.send(json.dumps({"type": "error", "request_id": frame["request_id"],
                        "error": {"code": "unavailable", "message": "Injected for the test."}}))
    expect(alice_page.locator("#board-status")).to_contain_text("Whiteboard unavailable")

    # Retried after a second: the board recovers with Bob's rectangle, and follows live again.
    expect(alice_canvas).to_have_attribute("data-ready", "true")
    expect(alice_canvas).to_have_attribute("data-shapes", "1")
    assert len(snapshots) == 2
    assert alice_page.evaluate(PAINTED, [900, 500])
    bob_page.get_by_role("button", name="Undo").click()
    expect(alice_canvas).to_have_attribute("data-shapes", "0")
