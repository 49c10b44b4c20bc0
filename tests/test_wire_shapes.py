"""One wire shape, three declarations, kept equal: for each of user, message, room, member,
shape and feed item, a real object's serialised form matches the JSON Schema its events are
checked against, and that schema and the OpenAPI component served at /api/schema/ name the
same fields, with the same required set, nullability and types."""

import jsonschema_rs
import pytest

from chat import services as chat_services
from chat.models import RoomMembership
from chat.serialize import (
    MEMBER_SCHEMA,
    MESSAGE_SCHEMA,
    ROOM_SCHEMA,
    serialize_member,
    serialize_message,
    serialize_room,
    serialize_user,
)
from feeds import services as feed_services
from feeds.models import Feed
from feeds.serialize import ITEM_SCHEMA, TOMBSTONE_SCHEMA, serialize_item
from realtime import USER_SCHEMA
from tests.whiteboard.conftest import new_shape
from whiteboard import services as board_services
from whiteboard.serialize import SHAPE, serialize_shape

pytestmark = pytest.mark.django_db

# Fields only the REST body of a room has: the caller's facts, added beside the shape.
ROOM_REST_ONLY = {"member_count", "role", "unread", "presence"}


@pytest.fixture(scope="module")
def components(django_db_setup, django_db_blocker):
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()["components"]["schemas"]


def _event_field(prop):
    """(type, nullable) of one property of an event schema; nested users are "user"."""
    nullable = False
    if "anyOf" in prop:
        rest = [option for option in prop["anyOf"] if option != {"type": "null"}]
        nullable = len(rest) < len(prop["anyOf"])
        assert len(rest) == 1, prop
        prop = rest[0]
    if prop == USER_SCHEMA:
        return "user", nullable
    if "enum" in prop:
        return "string", nullable
    kind = prop.get("type")
    if isinstance(kind, list):
        nullable = nullable or "null" in kind
        (kind,) = [k for k in kind if k != "null"]
    return kind, nullable


def _api_field(prop, components):
    """(type, nullable) of one property of an OpenAPI component, following $refs."""
    nullable = bool(prop.get("nullable"))
    refs = [p["$ref"] for p in prop.get("allOf", prop.get("oneOf", [])) if "$ref" in p]
    if "$ref" in prop:
        refs.append(prop["$ref"])
    for ref in refs:
        name = ref.rsplit("/", 1)[-1]
        if name == "User":
            return "user", nullable
        target = components[name]
        if target.get("enum") == [None]:  # drf-spectacular's NullEnum
            nullable = True
            continue
        return target.get("type", "string"), nullable
    if prop.get("readOnly") and "type" not in prop and not refs:
        return None, nullable
    # A JSONField documents no type; its event schemas say "object".
    return prop.get("type", "object"), nullable


def assert_same_shape(schema, component, components, *, rest_only=(), required=None):
    """The event schema and the OpenAPI component agree on fields, required set, nullability
    and types (`rest_only`: fields the REST body adds beside the shape)."""
    api_props = {k: v for k, v in component["properties"].items() if k not in rest_only}
    assert set(schema["properties"]) == set(api_props)
    wanted_required = set(schema.get("required", [])) if required is None else set(required)
    assert wanted_required == set(component.get("required", [])) - set(rest_only)
    for name, prop in schema["properties"].items():
        assert _event_field(prop) == _api_field(api_props[name], components), name


def assert_valid(schema, data):
    validator = jsonschema_rs.validator_for(schema)
    assert validator.is_valid(data), next(iter(validator.iter_errors(data))).message
    assert set(data) <= set(schema["properties"])


@pytest.fixture
def room(user):
    return chat_services.room_create(creator=user, slug="shapes", name="Shapes", description="")


def test_the_public_user_is_one_shape_in_events_and_the_openapi_user(components, user):
    assert_valid(USER_SCHEMA, serialize_user(user))
    assert set(serialize_user(user)) == set(USER_SCHEMA["required"])
    assert_same_shape(USER_SCHEMA, components["User"], components)


def test_a_message_serialises_to_its_event_schema_and_the_openapi_message(components, room, user):
    message = chat_services.message_create(room=room, author=user, body="hi", client_id="c1")
    assert_valid(MESSAGE_SCHEMA, serialize_message(message))
    assert_same_shape(MESSAGE_SCHEMA, components["Message"], components)


def test_a_room_serialises_to_its_event_schema_and_the_openapi_room(components, room):
    assert_valid(ROOM_SCHEMA, serialize_room(room))
    assert_same_shape(ROOM_SCHEMA, components["Room"], components, rest_only=ROOM_REST_ONLY)


def test_a_member_serialises_to_its_event_schema_and_the_openapi_member(components, room, user):
    membership = RoomMembership.objects.get(room=room, user=user)
    assert_valid(MEMBER_SCHEMA, serialize_member(membership))
    assert_same_shape(MEMBER_SCHEMA, components["Member"], components)


def test_a_shape_serialises_to_its_event_schema_and_the_openapi_shape(components, room, user):
    shape = board_services.shape_draw(room=room, user=user, shape=new_shape("rect"))
    assert_valid(SHAPE, serialize_shape(shape))
    assert_same_shape(SHAPE, components["Shape"], components)


def test_a_feed_item_and_its_tombstone_match_their_schemas_and_the_openapi_item(components):
    feed = Feed.objects.create(slug="shapes", title="Shapes")
    _, item = feed_services.item_upsert(feed=feed, data={
        "id": "e1", "kind": "article", "title": "T", "body": "B", "url": "https://example.com/",
        "data": {"n": 1}, "occurred_at": "2025-01-31T12:00:00+00:00", "version": 1})
    assert_valid(ITEM_SCHEMA, serialize_item(item))
    feed_services.item_delete(item=item)
    item.refresh_from_db()
    assert_valid(TOMBSTONE_SCHEMA, serialize_item(item))
    # REST documents one Item for both: only what a tombstone has too is required.
    assert_same_shape(ITEM_SCHEMA, components["Item"], components,
                      required=set(ITEM_SCHEMA["required"]) & set(TOMBSTONE_SCHEMA["required"]))
