"""The one JSON shape of a board's shape (socket replies, events, REST, conflicts), beside
its JSON Schema (events are checked against it on every publish: whiteboard.realtime)."""

from realtime import USER_SCHEMA, public_user

# The author of a change (null once the account is deleted).
USER = {"anyOf": [USER_SCHEMA, {"type": "null"}]}
# Every colour a client receives is `#rrggbb` (lower case, as whiteboard.validation
# normalises it): viewers' pages put colours into style attributes, so nothing else may pass.
COLOR = {"type": "string", "pattern": "^#[0-9a-f]{6}$"}
# A shape's data is checked field by field in whiteboard.validation; the event schema pins
# the fields a viewer's page styles with, so a shape never carries a foreign colour either.
SHAPE_DATA = {"type": "object", "required": ["color"],
              "properties": {"color": COLOR, "fill": {"anyOf": [COLOR, {"type": "null"}]}}}
SHAPE = {
    "type": "object",
    "required": ["id", "kind", "data", "z", "version", "created_by", "updated_by", "updated_at"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "kind": {"enum": ["stroke", "line", "rect", "ellipse", "text", "note"]},
        "data": SHAPE_DATA,
        "z": {"type": "integer"},
        "version": {"type": "integer", "minimum": 1},
        "created_by": USER,
        "updated_by": USER,
        "updated_at": {"type": "string"},
    },
}


def topic_of(room):
    """The board's topic: `board:<room slug>`."""
    return f"board:{room.slug}"


def _user_dict(user):
    return public_user(user) if user is not None else None


def serialize_shape(shape):
    """SHAPE: created_by / updated_by are `{id, username, display_name}` (null once the
    account is deleted), so clients can label shapes without another lookup."""
    return {
        "id": str(shape.shape_id),
        "kind": shape.kind,
        "data": shape.data,
        "z": shape.z,
        "version": shape.version,
        "created_by": _user_dict(shape.created_by),
        "updated_by": _user_dict(shape.updated_by),
        "updated_at": shape.updated_at.isoformat(),
    }
