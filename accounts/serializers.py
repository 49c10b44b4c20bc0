"""The OpenAPI description of the public user (realtime.public_user makes the data; the
fields here are checked equal to realtime.USER_SCHEMA by tests/test_wire_shapes.py)."""

from rest_framework import serializers


class UserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField()
