"""Socket actions of `board:<slug>` topics: they parse the frame and call the services
(durable changes) or forward ephemeral strokes and cursors straight from the event loop."""

import colorsys
import time

from realtime import apublish
from realtime.errors import Invalid
from whiteboard import selectors, services, validation
from whiteboard.serialize import serialize_shape

# Cursors forwarded per connection per second: smooth enough to follow a pointer (the
# client sends every 60 ms), while a board with many people moving stays a small
# fraction of everyone's 50 frames/s budget.  The rest are dropped quietly.
CURSOR_MAX_PER_SECOND = 20
CURSOR_MIN_INTERVAL = 1.0 / CURSOR_MAX_PER_SECOND
# Points in one in-progress stroke batch: the client sends every 50 ms, so a batch holds
# a handful; a whole stroke (MAX_POINTS) in one batch is still accepted.
MAX_STROKE_BATCH = validation.MAX_POINTS
_CURSOR_STATE = "whiteboard.cursor_at"


def _room(request):
    return selectors.get_room_unchecked(slug=request.key)


def snapshot(request):
    """`board.snapshot` {} -> {shapes, seq}."""
    return selectors.get_snapshot(room=_room(request), user=request.user)


def draw(request):
    """`board.draw` {shape} -> {shape} (with its new version)."""
    if "shape" not in request.data:
        raise Invalid("shape is required.", field="shape")
    shape = services.shape_draw(room=_room(request), user=request.user, shape=request.data["shape"])
    return {"shape": serialize_shape(shape)}


def erase(request):
    """`board.erase` {id, version?} -> {id, version}."""
    return services.shape_erase(room=_room(request), user=request.user,
                                shape_id=request.data.get("id"), version=request.data.get("version"))


def clear(request):
    """`board.clear` {} -> {erased}."""
    return services.board_clear(room=_room(request), user=request.user)


def user_colour(user_id):
    """A stable `#rrggbb` per user: hues spread by the golden angle so consecutive ids
    differ clearly; mid lightness and saturation stay readable on white."""
    hue = (int(user_id) * 137.508) % 360 / 360
    red, green, blue = colorsys.hls_to_rgb(hue, 0.45, 0.7)
    return f"#{round(red * 255):02x}{round(green * 255):02x}{round(blue * 255):02x}"


async def stroke(request):
    """`board.stroke` {id, points, color?, width?}: forwards in-progress points to the
    others on the board (ephemeral; the final `board.draw` makes the shape durable)."""
    data = request.data
    for key in sorted(data):
        if key not in ("id", "points", "color", "width"):
            raise Invalid(f"board.stroke has no field {key[:40]!r}.", field=key[:40])
    event = {"id": str(validation.shape_id(data.get("id"), "id")),
             "points": validation.points(data.get("points"), "points", max_points=MAX_STROKE_BATCH),
             "user": request.user_info}
    if data.get("color") is not None:
        event["color"] = validation.color(data["color"], "color")
    if data.get("width") is not None:
        event["width"] = validation.width(data["width"], "width")
    await apublish(request.topic, "board.stroke", event, ephemeral=True,
                   exclude_connection=request.connection_id)
    return {}


async def cursor(request):
    """`board.cursor` {x, y}: forwards the pointer position with the user's name and
    colour, at most CURSOR_MAX_PER_SECOND per connection; the rest reply {dropped: true}."""
    x = validation.number(request.data.get("x"), "x")
    y = validation.number(request.data.get("y"), "y")
    now = time.monotonic()
    last = request.state.get(_CURSOR_STATE)
    if last is not None and now - last < CURSOR_MIN_INTERVAL:
        return {"dropped": True}
    request.state[_CURSOR_STATE] = now
    user = request.user_info
    await apublish(request.topic, "board.cursor",
                   {"x": x, "y": y, "user": user, "color": user_colour(user["id"])},
                   ephemeral=True, exclude_connection=request.connection_id)
    return {}
