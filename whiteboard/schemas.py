"""JSON schemas of the whiteboard's events (publish() checks event data against them
on every publish) and the registration of its topic kind, actions and events."""

from realtime import register_action, register_event, register_topic_kind

USER = {
    "type": ["object", "null"],
    "required": ["id", "username", "display_name"],
    "properties": {"id": {"type": "integer"}, "username": {"type": "string"},
                   "display_name": {"type": "string"}},
}
POINTS = {"type": "array", "items": {"type": "array", "items": {"type": "number"},
                                     "minItems": 2, "maxItems": 2}}
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
SHAPE_EVENT = {"type": "object", "required": ["shape"], "additionalProperties": False,
               "properties": {"shape": SHAPE}}
ERASED = {"type": "object", "required": ["id", "version"], "additionalProperties": False,
          "properties": {"id": {"type": "string"}, "version": {"type": "integer"}}}
CLEARED = {"type": "object", "additionalProperties": False, "properties": {}}
STROKE = {
    "type": "object", "required": ["id", "points", "user"], "additionalProperties": False,
    "properties": {"id": {"type": "string"}, "points": POINTS, "user": USER, "color": COLOR,
                   "width": {"type": "number"}},
}
CURSOR = {
    "type": "object", "required": ["x", "y", "user", "color"], "additionalProperties": False,
    "properties": {"x": {"type": "number"}, "y": {"type": "number"}, "user": USER, "color": COLOR},
}


def register():
    """Called once from WhiteboardConfig.ready()."""
    from chat import permissions
    from whiteboard import handlers, services

    register_topic_kind("board", authorize=services.authorize, presence=True, anonymous_read=True,
                        public_read=permissions.slug_is_public)
    register_event("board.shape", SHAPE_EVENT, doc="A shape was drawn or replaced (its new version).")
    register_event("board.erased", ERASED, doc="A shape was erased; `version` is its erased version.")
    register_event("board.cleared", CLEARED, doc="The owner cleared the whole board.")
    register_event("board.stroke", STROKE,
                   doc="Points of a stroke someone is drawing right now (ephemeral).")
    register_event("board.cursor", CURSOR, doc="Someone's pointer moved (ephemeral, ≤20/s each).")
    kinds = ("board",)
    register_action("board.snapshot", handlers.snapshot, topic_kinds=kinds, access="read",
                    allow_anonymous=True, doc="Every live shape in z order and the seq it is as of.")
    register_action("board.draw", handlers.draw, topic_kinds=kinds,
                    doc="Creates or replaces a shape (optimistic concurrency on `version`).")
    register_action("board.erase", handlers.erase, topic_kinds=kinds, doc="Erases a shape.")
    register_action("board.clear", handlers.clear, topic_kinds=kinds,
                    doc="Erases every shape (room owner or staff).")
    register_action("board.stroke", handlers.stroke, topic_kinds=kinds, requires_subscription=True,
                    doc="Forwards in-progress stroke points to the others (ephemeral).")
    register_action("board.cursor", handlers.cursor, topic_kinds=kinds, requires_subscription=True,
                    doc="Forwards the pointer position (ephemeral, at most 20/s forwarded).")
