"""Checks a shape from a client (socket or REST) before anything is stored or forwarded.

Every problem raises `Invalid` naming the exact field, e.g. `shape.data.points.3` or
`shape.data.color`.  Data fields per kind (docs/protocol/whiteboard.md):

    stroke, line    {points: [[x, y], ...], color, width}        (line: exactly 2 points)
    rect, ellipse   {x, y, w, h, color, width, fill?}            (w, h >= 0: normalised)
    text            {x, y, text, color, width?}                  (text 1-1,000 characters)
    note            {x, y, text, color, width?, w?, h?}          (text 0-1,000 characters)

Unknown keys are rejected, so a typo never silently becomes part of the board.
"""

import math
import re
import uuid

from realtime.errors import Invalid
from whiteboard.models import KINDS

# Points per stroke: a minute of freehand drawing at 60 Hz with the client's 1.5-unit
# spacing stays well under this, and 5,000 points at full precision still fit the 64 KiB
# frame limit (REALTIME_MAX_FRAME_BYTES).
MAX_POINTS = 5000
# Coordinates are board units (the client's board is 1600 x 1000); ±100,000 leaves room
# for panning far off the visible board while keeping the SVG export and rendering sane.
COORD_LIMIT = 100_000
# Line widths in board units, the range of the client's width slider.
MIN_WIDTH, MAX_WIDTH = 1, 64
# Text on a shape: a paragraph, not a document (the board is not a text editor).
MAX_TEXT = 1000
# z order values: any integer a JavaScript number represents exactly.
Z_LIMIT = 2**53
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
# Control characters (other than tab and newline) and lone surrogates: invisible, and not
# representable in XML, so the SVG export could not include them.
BAD_TEXT_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff\ufffe\uffff]")

# Fields a client may send back from a serialised shape; the server owns them, so they
# are ignored rather than rejected (a client may resend the shape object it received).
SERVER_FIELDS = {"created_by", "updated_by", "updated_at"}
SHAPE_FIELDS = {"id", "kind", "data", "z", "version"}

# kind -> (required data keys, optional data keys)
DATA_FIELDS = {
    "stroke": ({"points", "color", "width"}, set()),
    "line": ({"points", "color", "width"}, set()),
    "rect": ({"x", "y", "w", "h", "color", "width"}, {"fill"}),
    "ellipse": ({"x", "y", "w", "h", "color", "width"}, {"fill"}),
    "text": ({"x", "y", "text", "color"}, {"width"}),
    "note": ({"x", "y", "text", "color"}, {"width", "w", "h"}),
}


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def number(value, field, *, low=-COORD_LIMIT, high=COORD_LIMIT):
    if not _is_number(value) or not low <= value <= high:
        raise Invalid(f"{field.rsplit('.', 1)[-1]} must be a number from {low} to {high}.", field=field)
    return value


def color(value, field):
    # fullmatch: `$` alone would let a trailing newline through into a style attribute.
    if not isinstance(value, str) or not COLOR_RE.fullmatch(value):
        raise Invalid("colour must look like #rrggbb.", field=field)
    return value.lower()


def width(value, field):
    return number(value, field, low=MIN_WIDTH, high=MAX_WIDTH)


def shape_id(value, field):
    """A UUID given as a string; returns uuid.UUID."""
    if not isinstance(value, str) or len(value) > 36:
        raise Invalid("id must be a UUID string.", field=field)
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Invalid("id must be a UUID string.", field=field) from None


def points(value, field, *, max_points=MAX_POINTS, min_points=1):
    """A list of [x, y] pairs of finite numbers within ±COORD_LIMIT."""
    if not isinstance(value, list):
        raise Invalid("points must be a list of [x, y] pairs.", field=field)
    if not min_points <= len(value) <= max_points:
        raise Invalid(f"points must have {min_points} to {max_points} entries.", field=field)
    for index, point in enumerate(value):
        if (not isinstance(point, list) or len(point) != 2
                or not all(_is_number(c) and -COORD_LIMIT <= c <= COORD_LIMIT for c in point)):
            raise Invalid(f"each point must be [x, y] with numbers within ±{COORD_LIMIT}.",
                          field=f"{field}.{index}")
    return value


def text(value, field, *, min_length):
    if not isinstance(value, str) or not min_length <= len(value) <= MAX_TEXT:
        raise Invalid(f"text must be {min_length}-{MAX_TEXT} characters.", field=field)
    if BAD_TEXT_RE.search(value):
        raise Invalid("text may not contain control characters.", field=field)
    return value


def validate_data(kind, data, field):
    """The cleaned data of a shape of `kind`; raises Invalid naming the first bad field."""
    if not isinstance(data, dict):
        raise Invalid("data must be an object.", field=field)
    required, optional = DATA_FIELDS[kind]
    for key in sorted(data):
        if key not in required and key not in optional:
            raise Invalid(f"{kind} data has no field {key[:40]!r}.", field=f"{field}.{key[:40]}")
    for key in sorted(required):
        if key not in data:
            raise Invalid(f"{key} is required for a {kind}.", field=f"{field}.{key}")
    clean = {}
    for key in sorted(data):
        value, where = data[key], f"{field}.{key}"
        if key == "points":
            limits = {"min_points": 2, "max_points": 2} if kind == "line" else {}
            clean[key] = points(value, where, **limits)
        elif key in ("color", "fill"):
            clean[key] = None if key == "fill" and value is None else color(value, where)
        elif key == "width":
            clean[key] = width(value, where)
        elif key in ("x", "y"):
            clean[key] = number(value, where)
        elif key in ("w", "h"):
            # Stored normalised: the client turns a drag to the left into x - w, w > 0.
            clean[key] = number(value, where, low=0, high=2 * COORD_LIMIT)
        elif key == "text":
            clean[key] = text(value, where, min_length=0 if kind == "note" else 1)
    return clean


def validate_shape(raw, field="shape"):
    """{"id": UUID, "kind", "data", "z": int or None, "version": int or None} from a
    client's shape object; raises Invalid naming the first bad field."""
    if not isinstance(raw, dict):
        raise Invalid("shape must be an object.", field=field)
    for key in sorted(raw):
        if key not in SHAPE_FIELDS and key not in SERVER_FIELDS:
            raise Invalid(f"a shape has no field {key[:40]!r}.", field=f"{field}.{key[:40]}")
    if "id" not in raw:
        raise Invalid("id is required.", field=f"{field}.id")
    sid = shape_id(raw["id"], f"{field}.id")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise Invalid(f"kind must be one of {', '.join(KINDS)}.", field=f"{field}.kind")
    if "data" not in raw:
        raise Invalid("data is required.", field=f"{field}.data")
    data = validate_data(kind, raw["data"], f"{field}.data")
    z = raw.get("z")
    if z is not None and (not isinstance(z, int) or isinstance(z, bool) or not -Z_LIMIT <= z <= Z_LIMIT):
        raise Invalid("z must be an integer.", field=f"{field}.z")
    version = raw.get("version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)
                                or not 0 <= version < 2**31):
        raise Invalid("version must be a non-negative integer (0 or absent: a new shape).",
                      field=f"{field}.version")
    return {"id": sid, "kind": kind, "data": data, "z": z, "version": version}


def validate_version(value, field="version"):
    """An optional version (erase); None when absent."""
    if value is None:
        return None
    if isinstance(value, str) and value.isdigit() and len(value) < 10:
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**31:
        raise Invalid("version must be a non-negative integer.", field=field)
    return value
