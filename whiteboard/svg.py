"""The board as an SVG image (GET /api/boards/<slug>/export.svg), drawn like the client's
canvas (static/app/board-render.js): same geometry, note size and text sizes.

Every element carries `id="shape-<uuid>"` and `data-kind`, so the export can be checked
shape by shape.  All text goes through XML escaping; nothing from a client is written raw.
"""

import re
from xml.sax.saxutils import escape, quoteattr

from whiteboard.validation import BAD_TEXT_RE

# The client's board (BOARD_W x BOARD_H); the image grows to include shapes beyond it.
BOARD_W, BOARD_H = 1600, 1000
# A note's fixed size unless its data gives w/h, as the client draws it.
NOTE_W, NOTE_H = 200, 140
NOTE_BACKGROUND = "#fef3c7"
DEFAULT_COLOR = "#111827"
_SAFE_COLOR = re.compile(r"^#[0-9a-f]{6}$")


def _num(value):
    """A compact, exact-enough number for an attribute (board units, 2 decimals)."""
    value = round(float(value), 2)
    return str(int(value)) if value == int(value) else f"{value:.2f}".rstrip("0")


def _color(value, default=DEFAULT_COLOR):
    # Stored colours were validated; this keeps the export safe even for old rows.
    return value if isinstance(value, str) and _SAFE_COLOR.match(value) else default


def _attrs(**attrs):
    return "".join(f" {name.replace('_', '-')}={quoteattr(str(value))}"
                   for name, value in attrs.items() if value is not None)


def _text_size(width):
    return 12 + min(64, max(1, width or 1)) * 2


def _text_lines(x, y, text, size, line_height):
    spans = []
    for index, line in enumerate(BAD_TEXT_RE.sub("\ufffd", text).split("\n")):
        spans.append(f"<tspan{_attrs(x=_num(x), y=_num(y + index * line_height))}>"
                     f"{escape(line)}</tspan>")
    return "".join(spans)


def _bounds(shape):
    d = shape.data
    if shape.kind in ("stroke", "line"):
        xs = [p[0] for p in d["points"]]
        ys = [p[1] for p in d["points"]]
        pad = d.get("width", 1)
        return min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad
    if shape.kind == "note":
        return d["x"], d["y"], d["x"] + d.get("w", NOTE_W), d["y"] + d.get("h", NOTE_H)
    if shape.kind == "text":
        size = _text_size(d.get("width"))
        lines = d["text"].split("\n")
        return (d["x"], d["y"], d["x"] + max(len(line) for line in lines) * size * 0.6,
                d["y"] + len(lines) * size * 1.25)
    return d["x"], d["y"], d["x"] + d["w"], d["y"] + d["h"]


def _el(tag, content=None, **attrs):
    """An element with escaped attributes; `content` is already-escaped markup."""
    if content is None:
        return f"<{tag}{_attrs(**attrs)}/>"
    return f"<{tag}{_attrs(**attrs)}>{content}</{tag}>"


def _text(x, y, text, color, size, line_height):
    return _el("text", _text_lines(x, y, text, size, line_height), font_size=_num(size), fill=color,
               dominant_baseline="hanging", font_family="system-ui, sans-serif")


def shape_element(shape):
    """One shape as an SVG element (a string)."""
    d = shape.data
    color = _color(d.get("color"))
    common = {"id": f"shape-{shape.shape_id}", "data_kind": shape.kind}
    stroke = {"stroke": color, "stroke_width": _num(d.get("width", 1))}
    if shape.kind in ("stroke", "line"):
        pts = d["points"]
        if len(pts) == 1:
            return _el("circle", **common, cx=_num(pts[0][0]), cy=_num(pts[0][1]),
                       r=_num(d["width"] / 2), fill=color)
        points = " ".join(f"{_num(x)},{_num(y)}" for x, y in pts)
        return _el("polyline", **common, points=points, fill="none", **stroke,
                   stroke_linecap="round", stroke_linejoin="round")
    if shape.kind in ("rect", "ellipse"):
        fill = _color(d.get("fill"), "none") if d.get("fill") else "none"
        x, y, w, h = d["x"], d["y"], d["w"], d["h"]
        if shape.kind == "rect":
            return _el("rect", **common, x=_num(x), y=_num(y), width=_num(w), height=_num(h),
                       fill=fill, **stroke)
        return _el("ellipse", **common, cx=_num(x + w / 2), cy=_num(y + h / 2), rx=_num(w / 2),
                   ry=_num(h / 2), fill=fill, **stroke)
    if shape.kind == "text":
        size = _text_size(d.get("width"))
        return _el("g", _text(d["x"], d["y"], d["text"], color, size, size * 1.25), **common)
    if shape.kind == "note":
        x, y, w, h = d["x"], d["y"], d.get("w", NOTE_W), d.get("h", NOTE_H)
        return _el("g", _el("rect", x=_num(x), y=_num(y), width=_num(w), height=_num(h), fill=NOTE_BACKGROUND)
                   + _el("rect", x=_num(x), y=_num(y), width=_num(w), height=6, fill=color)
                   + _text(x + 10, y + 16, d["text"], color, 16, 20), **common)
    return ""


def render_svg(shapes, *, title=""):
    """A standalone SVG document of `shapes` (already in z order)."""
    left, top, right, bottom = 0, 0, BOARD_W, BOARD_H
    for shape in shapes:
        x0, y0, x1, y1 = _bounds(shape)
        left, top, right, bottom = min(left, x0), min(top, y0), max(right, x1), max(bottom, y1)
    width, height = right - left, bottom - top
    box = {"x": _num(left), "y": _num(top), "width": _num(width), "height": _num(height)}
    head = ('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"'
            + _attrs(viewBox=" ".join(box.values()), width=box["width"], height=box["height"]) + ">"
            + _el("title", escape(BAD_TEXT_RE.sub("", title)))
            + _el("rect", **box, fill="#ffffff"))
    return head + "".join(shape_element(s) for s in shapes) + "</svg>\n"
