"""Everything the whiteboard registers with the realtime layer: the `board` topic kind,
its events (with the schemas of their data: publish() checks every event against them)
and its socket actions.  Imported once, by WhiteboardConfig.ready()."""

from chat.permissions import slug_is_public
from realtime import register_action, register_event, register_topic_kind
from whiteboard import handlers, permissions
from whiteboard.serialize import COLOR, SHAPE, USER

POINTS = {"type": "array", "items": {"type": "array", "items": {"type": "number"},
                                     "minItems": 2, "maxItems": 2}}
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

register_topic_kind("board", authorize=permissions.authorize_topic, presence=True, anonymous_read=True,
                    public_read=slug_is_public)
register_event("board.shape", SHAPE_EVENT, doc="A shape was drawn or replaced (its new version).")
register_event("board.erased", ERASED, doc="A shape was erased; `version` is its erased version.")
register_event("board.cleared", CLEARED, doc="The owner cleared the whole board.")
register_event("board.stroke", STROKE,
               doc="Points of a stroke someone is drawing right now (ephemeral).")
register_event("board.cursor", CURSOR, doc="Someone's pointer moved (ephemeral, ≤20/s each).")

BOARD = ("board",)
register_action("board.snapshot", handlers.snapshot, topic_kinds=BOARD, access="read",
                allow_anonymous=True, doc="Every live shape in z order and the seq it is as of.")
register_action("board.draw", handlers.draw, topic_kinds=BOARD,
                doc="Creates or replaces a shape (optimistic concurrency on `version`).")
register_action("board.erase", handlers.erase, topic_kinds=BOARD, doc="Erases a shape.")
register_action("board.clear", handlers.clear, topic_kinds=BOARD,
                doc="Erases every shape (room owner or staff).")
register_action("board.stroke", handlers.stroke, topic_kinds=BOARD, requires_subscription=True,
                doc="Forwards in-progress stroke points to the others (ephemeral).")
register_action("board.cursor", handlers.cursor, topic_kinds=BOARD, requires_subscription=True,
                doc="Forwards the pointer position (ephemeral, at most 20/s forwarded).")
