"""The events chat publishes to `room:<slug>`, with the JSON schemas of their data."""

from realtime import USER_SCHEMA, register_event

NULLABLE_USER = {"anyOf": [USER_SCHEMA, {"type": "null"}]}
MESSAGE_SCHEMA = {
    "type": "object",
    "required": ["id", "room", "author", "body", "created_at", "edited_at", "deleted", "client_id"],
    "properties": {
        "id": {"type": "integer"},
        "room": {"type": "string"},
        "author": NULLABLE_USER,
        "body": {"type": "string", "maxLength": 4000},
        "created_at": {"type": "string"},
        "edited_at": {"type": ["string", "null"]},
        "deleted": {"type": "boolean"},
        "client_id": {"type": "string"},
    },
    "additionalProperties": False,
}
ROOM_SCHEMA = {
    "type": "object",
    "required": ["slug", "name", "description", "is_private", "archived", "created_by", "created_at",
                 "topic"],
    "properties": {
        "slug": {"type": "string"}, "name": {"type": "string"}, "description": {"type": "string"},
        "is_private": {"type": "boolean"}, "archived": {"type": "boolean"},
        "created_by": NULLABLE_USER, "created_at": {"type": "string"}, "topic": {"type": "string"},
    },
}
MEMBER_SCHEMA = {
    "type": "object",
    "required": ["user", "role", "joined_at", "last_read_message_id"],
    "properties": {
        "user": USER_SCHEMA, "role": {"enum": ["owner", "member"]},
        "joined_at": {"type": "string"}, "last_read_message_id": {"type": "integer"},
    },
}


def _with(key, schema):
    return {"type": "object", "required": [key], "properties": {key: schema},
            "additionalProperties": False}


def register():
    """Called once from ChatConfig.ready()."""
    register_event("chat.message", _with("message", MESSAGE_SCHEMA), doc="A new message in the room.")
    register_event("chat.edited", _with("message", MESSAGE_SCHEMA),
                   doc="A message's body changed (edited_at is set).")
    register_event("chat.deleted", _with("message", MESSAGE_SCHEMA),
                   doc="A message was deleted: its tombstone (body \"\", deleted true).")
    register_event("chat.typing", _with("user", USER_SCHEMA),
                   doc="Someone is typing (ephemeral; at most one per user per 2 s).")
    register_event("room.updated", _with("room", ROOM_SCHEMA),
                   doc="The room's name, description, privacy or archived flag changed.")
    register_event("member.added", _with("member", MEMBER_SCHEMA),
                   doc="A member was added to the room, or their role changed.")
    register_event("member.removed", _with("user", USER_SCHEMA),
                   doc="A member left or was removed from the room.")
