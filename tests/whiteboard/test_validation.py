"""Each kind's data is checked field by field; each bad field gives `invalid` naming it."""

import math

import pytest

from realtime.errors import Invalid
from tests.whiteboard.conftest import GOOD_DATA, new_shape
from whiteboard.validation import MAX_POINTS, MAX_TEXT, validate_shape


@pytest.mark.parametrize("kind", sorted(GOOD_DATA))
def test_good_shape_of_each_kind_is_accepted(kind):
    shape = new_shape(kind)
    clean = validate_shape(shape)
    assert clean["kind"] == kind
    assert str(clean["id"]) == shape["id"]
    assert clean["data"] == GOOD_DATA[kind]
    assert clean["version"] is None and clean["z"] is None


def _bad(kind, field, value):
    shape = new_shape(kind)
    if value is _MISSING:
        del shape["data"][field]
    else:
        shape["data"][field] = value
    return shape


_MISSING = object()
_many_points = [[1, 1]] * (MAX_POINTS + 1)

# (kind, data field, bad value, expected error field)
BAD_DATA = [
    ("stroke", "points", _MISSING, "shape.data.points"),
    ("stroke", "points", "0,0 1,1", "shape.data.points"),
    ("stroke", "points", [], "shape.data.points"),
    ("stroke", "points", _many_points, "shape.data.points"),
    ("stroke", "points", [[0, 0], [1, 1], [2, 2], [3, math.inf]], "shape.data.points.3"),
    ("stroke", "points", [[0, 0], [1, 1], [2, 2], [3, float("nan")]], "shape.data.points.3"),
    ("stroke", "points", [[0, 0], [100_001, 0]], "shape.data.points.1"),
    ("stroke", "points", [[0, 0], [1, 2, 3]], "shape.data.points.1"),
    ("stroke", "points", [[0, 0], ["1", 2]], "shape.data.points.1"),
    ("stroke", "points", [[True, 0]], "shape.data.points.0"),
    ("stroke", "color", "blue", "shape.data.color"),
    ("stroke", "color", "#12345", "shape.data.color"),
    ("stroke", "color", _MISSING, "shape.data.color"),
    ("stroke", "width", 0, "shape.data.width"),
    ("stroke", "width", 65, "shape.data.width"),
    ("stroke", "width", "4", "shape.data.width"),
    ("stroke", "pressure", 0.5, "shape.data.pressure"),
    ("line", "points", [[0, 0]], "shape.data.points"),
    ("line", "points", [[0, 0], [1, 1], [2, 2]], "shape.data.points"),
    ("line", "width", _MISSING, "shape.data.width"),
    ("rect", "x", _MISSING, "shape.data.x"),
    ("rect", "y", -100_000.5, "shape.data.y"),
    ("rect", "w", -5, "shape.data.w"),
    ("rect", "h", None, "shape.data.h"),
    ("rect", "fill", "red", "shape.data.fill"),
    ("rect", "points", [[0, 0]], "shape.data.points"),
    ("ellipse", "w", "10", "shape.data.w"),
    ("ellipse", "color", "#gggggg", "shape.data.color"),
    ("text", "text", "", "shape.data.text"),
    ("text", "text", "x" * (MAX_TEXT + 1), "shape.data.text"),
    ("text", "text", 42, "shape.data.text"),
    ("text", "text", "bell\x07", "shape.data.text"),
    ("text", "x", math.inf, "shape.data.x"),
    ("text", "width", 100, "shape.data.width"),
    ("text", "w", 10, "shape.data.w"),
    ("note", "text", "x" * (MAX_TEXT + 1), "shape.data.text"),
    ("note", "w", -1, "shape.data.w"),
    ("note", "color", _MISSING, "shape.data.color"),
    ("note", "fill", "#ffffff", "shape.data.fill"),
]


@pytest.mark.parametrize(("kind", "key", "value", "field"), BAD_DATA,
                         ids=[f"{k}-{f}-{i}" for i, (k, f, _, _) in enumerate(BAD_DATA)])
def test_bad_data_field_is_invalid_naming_it(kind, key, value, field):
    with pytest.raises(Invalid) as info:
        validate_shape(_bad(kind, key, value))
    assert info.value.code == "invalid"
    assert info.value.field == field


def test_limits_themselves_are_accepted():
    stroke = new_shape("stroke")
    stroke["data"]["points"] = [[100_000, -100_000]] * MAX_POINTS
    stroke["data"]["width"] = 64
    validate_shape(stroke)
    note = new_shape("note")
    note["data"]["text"] = ""  # an empty note is still a note
    note["data"].update(w=300, h=200, width=1)
    validate_shape(note)
    text = new_shape("text")
    text["data"]["text"] = "é" * MAX_TEXT
    validate_shape(text)


@pytest.mark.parametrize(("shape", "field"), [
    ("not a shape", "shape"),
    ({"kind": "stroke", "data": GOOD_DATA["stroke"]}, "shape.id"),
    (new_shape(id="not-a-uuid"), "shape.id"),
    (new_shape(id=12), "shape.id"),
    ({**new_shape(), "kind": "triangle"}, "shape.kind"),
    ({"id": "2b0b6b1e-8f0a-4c1e-9a43-3f8d7f1e2a10", "kind": "rect"}, "shape.data"),
    (new_shape(data=[1, 2]), "shape.data"),
    (new_shape(version=-1), "shape.version"),
    (new_shape(version="3"), "shape.version"),
    (new_shape(z=1.5), "shape.z"),
    (new_shape(owner="me"), "shape.owner"),
])
def test_bad_shape_field_is_invalid_naming_it(shape, field):
    with pytest.raises(Invalid) as info:
        validate_shape(shape)
    assert info.value.field == field


def test_server_fields_sent_back_are_ignored_and_colours_lowercased():
    shape = new_shape("rect", version=3, z=7, created_by={"id": 1}, updated_at="x")
    shape["data"]["color"] = "#ABCDEF"
    clean = validate_shape(shape)
    assert clean["version"] == 3 and clean["z"] == 7
    assert clean["data"]["color"] == "#abcdef"
