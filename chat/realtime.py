"""Everything chat registers with the realtime layer: the `room` topic kind, the events it
publishes to `room:<slug>` (with the schemas of their data) and its socket actions.
Imported once, by ChatConfig.ready()."""

from chat import handlers, permissions
from chat.serialize import MEMBER_SCHEMA, MESSAGE_SCHEMA, ROOM_SCHEMA
from realtime import USER_SCHEMA, register_action, register_event, register_topic_kind


def _with(key, schema):
    return {"type": "object", "required": [key], "properties": {key: schema},
            "additionalProperties": False}


register_topic_kind("room", authorize=permissions.authorize_topic, presence=True, anonymous_read=True,
                    public_read=permissions.slug_is_public)

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

ROOM = ("room",)
register_action("chat.send", handlers.send, topic_kinds=ROOM, access="write", concurrent=True,
                doc="Posts a message {body, client_id}; idempotent per client_id.")
register_action("chat.edit", handlers.edit, topic_kinds=ROOM, access="write",
                doc="Edits one's own message {id, body}.")
register_action("chat.delete", handlers.delete, topic_kinds=ROOM, access="write",
                doc="Deletes a message {id} (author, owner or staff).")
register_action("chat.typing", handlers.typing, topic_kinds=ROOM, access="write",
                requires_subscription=True, doc="Tells the others you are typing (ephemeral).")
register_action("chat.history", handlers.history, topic_kinds=ROOM, access="read",
                allow_anonymous=True, doc="A page of messages {before?, limit?}, newest last.")
register_action("chat.read", handlers.read, topic_kinds=ROOM, access="read",
                doc="Stores the read position {message_id}.")
