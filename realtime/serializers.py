from rest_framework import serializers

from project.schema import DateTimeField
from realtime.models import Connection
from realtime.registry import TOPIC_RE, events, topic_kinds


class TicketSerializer(serializers.Serializer):
    ticket = serializers.CharField(read_only=True)
    expires_in = serializers.IntegerField(read_only=True)
    auth_expires_in = serializers.IntegerField(read_only=True)


class PublishSerializer(serializers.Serializer):
    """Either a topic (durable unless `ephemeral`) or one connection (always ephemeral)."""

    topic = serializers.CharField(required=False, max_length=140)
    connection_id = serializers.UUIDField(required=False)
    event = serializers.RegexField(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$", max_length=64)
    data = serializers.DictField(required=False, default=dict)
    ephemeral = serializers.BooleanField(required=False, default=False)

    def validate_topic(self, value):
        match = TOPIC_RE.match(value)
        if not match:
            raise serializers.ValidationError("topic must look like 'kind:key'.")
        if match["kind"] not in topic_kinds:
            raise serializers.ValidationError(f"unknown topic kind {match['kind']!r}.")
        return value

    def validate_event(self, value):
        if value not in events:
            raise serializers.ValidationError(
                f"unknown event {value!r}; use 'notification' or a registered event.")
        return value

    def validate(self, attrs):
        if bool(attrs.get("topic")) == bool(attrs.get("connection_id")):
            raise serializers.ValidationError({"topic": "give exactly one of topic or connection_id."})
        return attrs


class PublishResultSerializer(serializers.Serializer):
    seq = serializers.IntegerField(allow_null=True)
    delivered_to = serializers.CharField()


class ConnectionSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", default=None, read_only=True, allow_null=True,
                                     help_text="null for an anonymous socket.")
    # The API's one timestamp format (DRF's own field would write `Z`).
    opened_at = DateTimeField(read_only=True)
    closed_at = DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Connection
        fields = ["id", "user", "username", "opened_at", "closed_at", "close_code",
                  "client_address", "user_agent", "server_instance"]
