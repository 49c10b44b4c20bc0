"""The one JSON shape of each chat object, used by socket replies, events, REST and docs,
beside the JSON Schema of that shape (the events' data is checked against it on every
publish: chat.realtime registers them).  Timestamps in the API's one format
(project.schema.iso: ISO 8601, UTC, `+00:00`)."""

from project.schema import iso as _iso
from realtime import USER_SCHEMA, public_user

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



def serialize_user(user):
    """realtime.public_user's {id, username, display_name}; None for a deleted account."""
    return public_user(user) if user is not None else None


def serialize_message(message):
    """{id, room, author, body, created_at, edited_at, deleted, client_id}.

    A deleted message is a tombstone: its body is "" (history keeps its place)."""
    return {
        "id": message.pk,
        "room": message.room.slug,
        "author": serialize_user(message.author),
        "body": "" if message.deleted else message.body,
        "created_at": _iso(message.created_at),
        "edited_at": _iso(message.edited_at),
        "deleted": message.deleted,
        "client_id": message.client_id,
    }


def serialize_room(room):
    """{slug, name, description, is_private, archived, created_by, created_at, topic}.

    Views add the caller's facts (unread, role, member_count, presence) beside it."""
    return {
        "slug": room.slug,
        "name": room.name,
        "description": room.description,
        "is_private": room.is_private,
        "archived": room.archived,
        "created_by": serialize_user(room.created_by),
        "created_at": _iso(room.created_at),
        "topic": room.topic,
    }


def serialize_member(membership):
    """{user, role, joined_at, last_read_message_id}."""
    return {
        "user": serialize_user(membership.user),
        "role": membership.role,
        "joined_at": _iso(membership.joined_at),
        "last_read_message_id": membership.last_read_message_id,
    }
