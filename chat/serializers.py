"""DRF serializers of the chat API: request bodies (types only; chat.services validates)
and response bodies, which render through the one serialiser of chat.serialize so REST,
socket replies and events show the same shape.  The declared fields document it."""

from rest_framework import serializers

from accounts.serializers import UserSerializer
from chat.serialize import serialize_member, serialize_message, serialize_room


class MessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    room = serializers.CharField(help_text="The room's slug.")
    author = UserSerializer(allow_null=True)
    body = serializers.CharField(help_text='"" when deleted (a tombstone).')
    created_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)
    deleted = serializers.BooleanField()
    client_id = serializers.CharField()

    def to_representation(self, instance):
        return serialize_message(instance)


class RoomSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    is_private = serializers.BooleanField()
    archived = serializers.BooleanField()
    created_by = UserSerializer(allow_null=True)
    created_at = serializers.DateTimeField()
    topic = serializers.CharField(help_text="The socket topic of its chat: room:<slug>.")
    member_count = serializers.IntegerField()
    role = serializers.ChoiceField(["owner", "member"], allow_null=True,
                                   help_text="The caller's role; null when not a member.")
    unread = serializers.IntegerField(help_text="Messages by others after the caller's read position.")
    presence = UserSerializer(many=True, allow_null=True,
                              help_text="Who is in the room now (null when unknown).")

    def to_representation(self, instance):
        """`instance` comes from chat.selectors.get_rooms (annotated); the view sets the
        presence map in the context."""
        data = serialize_room(instance)
        data["member_count"] = instance.member_count
        data["role"] = instance.my_role
        data["unread"] = instance.unread
        presence = self.context.get("presence")
        data["presence"] = presence.get(instance.topic, []) if presence is not None else None
        return data


class MemberSerializer(serializers.Serializer):
    user = UserSerializer()
    role = serializers.ChoiceField(["owner", "member"])
    joined_at = serializers.DateTimeField()
    last_read_message_id = serializers.IntegerField()

    def to_representation(self, instance):
        return serialize_member(instance)


class PresenceSerializer(serializers.Serializer):
    presence = UserSerializer(many=True)


def _text(**kwargs):
    return serializers.CharField(allow_blank=True, trim_whitespace=False, **kwargs)


class RoomCreateSerializer(serializers.Serializer):
    slug = _text(help_text="1-50 lowercase letters, digits and hyphens.")
    name = _text(help_text="1-100 characters.")
    description = _text(required=False, default="", help_text="At most 2,000 characters.")
    is_private = serializers.BooleanField(required=False, default=False)


class RoomUpdateSerializer(serializers.Serializer):
    name = _text(required=False)
    description = _text(required=False)
    is_private = serializers.BooleanField(required=False)
    archived = serializers.BooleanField(required=False)


class MemberAddSerializer(serializers.Serializer):
    username = serializers.CharField(required=False, help_text="The user to add (or user_id).")
    user_id = serializers.IntegerField(required=False)
    role = serializers.ChoiceField(["owner", "member"], required=False, default="member")

    def validate(self, attrs):
        if not attrs.get("username") and attrs.get("user_id") is None:
            raise serializers.ValidationError({"username": "give username or user_id."})
        return attrs


class MessageCreateSerializer(serializers.Serializer):
    body = _text(help_text="1-4,000 characters (surrounding whitespace is stripped).")
    client_id = serializers.CharField(required=False, allow_null=True, default=None,
                                      help_text="Idempotency key: a retry returns the first message.")


class MessageEditSerializer(serializers.Serializer):
    body = _text()
