"""Authorization on every path, swept rather than listed: every REST route in the URLconf
and every socket action in the registry, tried against a private room (chat and board), a
private feed and another user's `user:<id>` topic, by an outsider (signed in, not a
member) and by an anonymous client.  Nothing is read (no private marker in any body, no
event), nothing is written (the private objects are unchanged afterwards).

The apps' own tests check each endpoint's exact answer (404 for a private room); this
sweep is the safety net that fails when a new route or action forgets its check.
"""

import uuid

import pytest
from asgiref.sync import sync_to_async
from django.urls import URLPattern, URLResolver, get_resolver

from realtime import registry
from tests.ws import ProtocolErrorFrame, connect_ws

MARKERS = ("zq-secret-room", "zq-psst", "zq-hidden-feed", "zq-feed-item", "zq-shape-text")
# What a refused request may answer (REST): never a 2xx or a 5xx.
REFUSED = {400, 401, 403, 404, 405}
# What a refused socket request may answer.
REFUSED_CODES = {"not_found", "forbidden", "unauthenticated", "not_subscribed"}
WRITE_BODY_KEYS = {
    # A body that would succeed on most write endpoints if authorization were missing.
    "body": "x", "client_id": "c1", "name": "x", "title": "x", "description": "x", "is_private": False,
    "is_public": True, "archived": False, "role": "owner", "topic": "room:zq-secret",
    "event": "notification", "data": {}, "events": [],
}


@pytest.fixture
def private_world(make_user):
    from chat import services as chat
    from feeds import services as feeds
    from feeds.models import FeedItem
    from whiteboard import services as board

    owner = make_user("zq-owner")
    room = chat.room_create(creator=owner, slug="zq-secret", name="zq-secret-room", is_private=True)
    message = chat.message_create(room=room, author=owner, body="zq-psst", client_id="m1")
    shape = board.shape_draw(room=room, user=owner, shape={
        "id": str(uuid.uuid4()), "kind": "text",
        "data": {"x": 1, "y": 2, "text": "zq-shape-text", "color": "#000000", "width": 2}})
    feed = feeds.feed_create(slug="zq-feed", title="zq-hidden-feed", is_public=False)
    feeds.item_upsert(feed=feed, data={"id": "i1", "version": 1, "title": "zq-feed-item",
                                       "occurred_at": "2026-01-01T00:00:00Z"})
    return {"owner": owner, "room": room, "message": message, "shape": shape, "feed": feed,
            "outsider": make_user("zq-outsider"), "items": FeedItem.objects.filter(feed=feed).count()}


def api_routes(patterns=None, prefix=""):
    """Every URL route of the site under api/, as a path() route string."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            yield from api_routes(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            route = prefix + str(entry.pattern)
            if route.startswith("api/"):
                yield route


def fill(route, world):
    """The route with its parameters pointed at the private objects (None: no parameter)."""
    import re

    values = {"message_id": world["message"].pk, "user_id": world["owner"].pk,
              "shape_id": world["shape"].shape_id, "pk": 1}
    params = re.findall(r"<(?:\w+:)?(\w+)>", route)
    if not params:
        return None
    slug = world["feed"].slug if route.startswith("api/feeds/") else world["room"].slug
    for name in params:
        assert name == "slug" or name in values, f"sweep: give {name!r} of {route} a private value"
        value = slug if name == "slug" else values[name]
        route = re.sub(rf"<(?:\w+:)?{name}>", str(value), route)
    return "/" + route


def test_the_sweep_covers_the_private_routes(private_world):
    filled = [fill(route, private_world) for route in api_routes()]
    assert "/api/rooms/zq-secret/messages/" in filled and "/api/feeds/zq-feed/items/" in filled
    assert "/api/boards/zq-secret/shapes/" in filled and "/api/boards/zq-secret/export.svg" in filled


@pytest.mark.parametrize("who", ["outsider", "anonymous"])
def test_no_rest_route_reads_or_writes_private_objects(private_world, api, api_as, who):
    client = api if who == "anonymous" else api_as(private_world["outsider"])
    body = {**WRITE_BODY_KEYS, "username": "zq-outsider", "user_id": private_world["outsider"].pk}
    for route in api_routes():
        url = fill(route, private_world)
        for method in ("get", "post", "put", "patch", "delete"):
            response = getattr(client, method)(url or "/" + route, body if method != "get" else None,
                                               format="json")
            text = response.content.decode(errors="replace")
            leaked = [marker for marker in MARKERS if marker in text]
            assert not leaked, (who, method, url or route, response.status_code, leaked)
            assert response.status_code < 500, (who, method, url or route, text[:300])
            if url is not None:
                assert response.status_code in REFUSED, (who, method, url, response.status_code, text[:300])
    world = private_world
    world["room"].refresh_from_db()
    world["message"].refresh_from_db()
    world["shape"].refresh_from_db()
    world["feed"].refresh_from_db()
    room = world["room"]
    assert (room.name, room.is_private, room.archived) == ("zq-secret-room", True, False)
    assert list(world["room"].members.all()) == [world["owner"]]
    assert (world["message"].body, world["message"].deleted) == ("zq-psst", False)
    assert (world["shape"].deleted, world["shape"].version) == (False, 1)
    assert (world["feed"].title, world["feed"].is_public) == ("zq-hidden-feed", False)
    assert world["feed"].items.count() == world["items"]


def private_topics(world):
    return [f"room:{world['room'].slug}", f"board:{world['room'].slug}", f"feed:{world['feed'].slug}",
            f"user:{world['owner'].pk}"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("hub_cleanup")
@pytest.mark.parametrize("who", ["outsider", "anonymous"])
async def test_no_socket_action_reads_or_writes_private_topics(private_world, who, settings):
    from chat import services as chat

    # Every action on every private topic, as fast as replies come: far above an anonymous
    # socket's frame rate, which is not what this test is about (test_limits_order.py is).
    settings.REALTIME_ANONYMOUS_RATE_BURST = 1000

    world = private_world
    data = {"body": "x", "client_id": "c2", "id": world["message"].pk, "message_id": world["message"].pk,
            "shape_id": str(world["shape"].shape_id), "shape": {"id": str(uuid.uuid4()), "kind": "text",
            "data": {"x": 1, "y": 1, "text": "t", "color": "#000000", "width": 2}}, "x": 1, "y": 1}
    user = world["outsider"] if who == "outsider" else None
    tried = 0
    async with connect_ws(user, origin="http://localhost") as ws:
        for topic in private_topics(world):
            kind = topic.split(":")[0]
            for name, action in registry.actions.items():
                kinds = action.topic_kinds
                if not kinds or (kinds != ("*",) and kind not in kinds):
                    continue
                with pytest.raises(ProtocolErrorFrame) as refused:
                    await ws.request(name, topic, data)
                assert refused.value.code in REFUSED_CODES, (who, name, topic, refused.value.code)
                tried += 1
        # Whatever it tried, nothing of the private topics reaches it.
        await sync_to_async(chat.message_create)(room=world["room"], author=world["owner"],
                                                 body="zq-psst again", client_id="m2")
        await ws.expect_silence(0.5)
    assert tried >= 15  # every room, board, feed action and the builtins, on four topics
    await sync_to_async(world["message"].refresh_from_db)()
    assert (world["message"].body, world["message"].deleted) == ("zq-psst", False)
