"""A private room or feed answers exactly like a missing one to whoever may not see it, on
every path: REST, pages, socket subscribe, and room creation with a taken slug."""

import uuid

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from chat import services as chat
from feeds.models import Feed
from tests.ws import ProtocolErrorFrame, connect_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]

SHAPE = str(uuid.uuid4())
ROOM_PATHS = [("get", "/api/rooms/{}/", None), ("patch", "/api/rooms/{}/", {"name": "x"}),
              ("delete", "/api/rooms/{}/", None), ("get", "/api/rooms/{}/members/", None),
              ("post", "/api/rooms/{}/members/", {"username": "zq-owner"}),
              ("delete", "/api/rooms/{}/members/1/", None), ("get", "/api/rooms/{}/messages/", None),
              ("post", "/api/rooms/{}/messages/", {"body": "hi", "client_id": "c1"}),
              ("get", "/api/rooms/{}/messages/1/", None), ("get", "/api/rooms/{}/presence/", None),
              ("get", "/api/boards/{}/", None), ("get", "/api/boards/{}/shapes/", None),
              ("get", f"/api/boards/{{}}/shapes/{SHAPE}/", None), ("get", "/api/boards/{}/export.svg", None)]
FEED_PATHS = [("get", "/api/feeds/{}/", None), ("patch", "/api/feeds/{}/", {"title": "x"}),
              ("get", "/api/feeds/{}/items/", None), ("post", "/api/feeds/{}/items/", {"id": "a"})]


@pytest.fixture
def hidden(make_user):
    owner = make_user("zq-owner")
    chat.room_create(creator=owner, slug="zq-secret", name="Secret", is_private=True)
    Feed.objects.create(slug="zq-ops", title="Ops", is_public=False)
    return owner


def answer(client, method, path, body, slug):
    response = getattr(client, method)(path.format(slug), body, format="json") if body is not None \
        else getattr(client, method)(path.format(slug))
    text = response.content.decode(errors="replace").replace(slug, "SLUG")
    return response.status_code, text, response.get("Location", "").replace(slug, "SLUG")


@pytest.mark.parametrize("who", ["anonymous", "outsider"])
def test_rest_and_pages_answer_a_private_slug_like_a_missing_one(hidden, make_user, api, who):
    from rest_framework.test import APIClient

    rest, pages = (api, Client()) if who == "anonymous" else (APIClient(), Client())
    if who == "outsider":
        outsider = make_user("zq-outsider")
        rest.force_authenticate(outsider)
        pages.force_login(outsider)
    for method, path, body in ROOM_PATHS + [("get", "/rooms/{}/", None)]:
        client = pages if path.startswith("/rooms/") else rest
        assert answer(client, method, path, body, "zq-secret") == \
            answer(client, method, path, body, "zq-nope"), (who, method, path)
    for method, path, body in FEED_PATHS + [("get", "/feeds/{}/", None)]:
        client = pages if path.startswith("/feeds/") else rest
        assert answer(client, method, path, body, "zq-ops") == \
            answer(client, method, path, body, "zq-nope"), (who, method, path)


async def subscribe_error(ws, topic):
    with pytest.raises(ProtocolErrorFrame) as exc:
        await ws.request("subscribe", topic)
    error = exc.value.error
    return {key: value for key, value in error.items() if key != "request_id"}


async def test_socket_subscribe_answers_a_private_topic_like_a_missing_one(hidden, make_user):
    outsider = await sync_to_async(make_user)("zq-outsider")
    async with connect_ws(outsider) as signed_in, connect_ws(origin="http://localhost") as anonymous:
        for ws in (signed_in, anonymous):
            for private, missing in (("room:zq-secret", "room:zq-nope"),
                                     ("board:zq-secret", "board:zq-nope"),
                                     ("feed:zq-ops", "feed:zq-nope")):
                hidden_error = await subscribe_error(ws, private)
                assert hidden_error["code"] == "not_found"
                assert str(hidden_error).replace("zq-ops", "SLUG") == \
                    str(await subscribe_error(ws, missing)).replace("zq-nope", "SLUG")


def test_a_taken_slug_is_unavailable_alike_for_public_and_private_rooms(hidden, make_user, api_as):
    chat.room_create(creator=hidden, slug="zq-open", name="Open")
    client = api_as(make_user("zq-outsider"))
    answers = []
    for slug in ("zq-secret", "zq-open"):
        response = client.post("/api/rooms/", {"slug": slug, "name": "Mine"}, format="json")
        answers.append((response.status_code, response.json()))
    assert answers[0] == answers[1]
    status, body = answers[0]
    assert status == 400 and body["error"]["code"] == "invalid" and body["error"]["field"] == "slug"
    assert body["error"]["message"] == chat.SLUG_UNAVAILABLE
    assert client.post("/api/rooms/", {"slug": "zq-free", "name": "Mine"}, format="json").status_code == 201
