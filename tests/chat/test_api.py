"""The REST API: /api/rooms/..., its permissions and its one error shape."""

import pytest
from asgiref.sync import sync_to_async

from chat import services
from chat.models import Message, RoomMembership

pytestmark = pytest.mark.django_db


def post(client, url, body, method="post"):
    return getattr(client, method)(url, body, format="json")


def test_room_list_shows_public_and_mine_with_unread_counts_and_presence(api_as, api, lobby, secret, owner,
                                                                         user, make_user):
    services.message_create(room=lobby, author=user, body="hi", client_id="a")  # alice joins
    services.message_create(room=lobby, author=owner, body="one", client_id="b")
    services.message_create(room=lobby, author=owner, body="two", client_id="c")
    payload = api_as(user).get("/api/rooms/").json()
    [room] = payload["results"]
    assert room["slug"] == "lobby" and room["unread"] == 2 and room["member_count"] == 2
    assert room["role"] == "member" and room["presence"] == [] and room["topic"] == "room:lobby"
    assert room["created_by"] == owner.public_dict()
    mine = {r["slug"]: r for r in api_as(owner).get("/api/rooms/").json()["results"]}
    assert set(mine) == {"lobby", "secret"} and mine["secret"]["role"] == "owner"
    assert mine["lobby"]["unread"] == 1
    anonymous = api.get("/api/rooms/").json()["results"]
    assert [r["slug"] for r in anonymous] == ["lobby"] and anonymous[0]["role"] is None


def test_create_room_makes_the_caller_owner_and_reports_field_errors(api_as, api, user):
    client = api_as(user)
    resp = post(client, "/api/rooms/", {"slug": "team", "name": "Team", "is_private": True})
    assert resp.status_code == 201
    assert resp.json()["role"] == "owner" and resp.json()["is_private"] is True
    resp = post(client, "/api/rooms/", {"slug": "team", "name": "Again"})
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "invalid" and resp.json()["error"]["field"] == "slug"
    resp = post(client, "/api/rooms/", {"slug": "Bad Slug", "name": "x"})
    assert resp.json()["error"]["field"] == "slug"
    resp = post(api, "/api/rooms/", {"slug": "anon", "name": "x"})
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "unauthenticated"


def test_update_and_archive_are_for_owners_and_staff(api_as, lobby, owner, user, staff):
    resp = post(api_as(user), "/api/rooms/lobby/", {"name": "Mine"}, "patch")
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "forbidden"
    resp = post(api_as(owner), "/api/rooms/lobby/", {"name": "Hall", "description": "Big"}, "patch")
    assert resp.status_code == 200 and resp.json()["name"] == "Hall"
    resp = api_as(staff).delete("/api/rooms/lobby/")
    assert resp.status_code == 200 and resp.json()["archived"] is True
    resp = post(api_as(user), "/api/rooms/lobby/messages/", {"body": "hi"})
    assert resp.status_code == 403


def test_private_room_is_404_for_outsiders_on_every_endpoint(api_as, api, secret, owner, user):
    hidden = services.message_create(room=secret, author=owner, body="psst", client_id="a")
    client = api_as(user)
    base = "/api/rooms/secret/"
    for method, url, body in [
        ("get", base, None), ("patch", base, {"name": "x"}), ("delete", base, None),
        ("get", base + "members/", None), ("post", base + "members/", {"username": "alice"}),
        ("delete", f"{base}members/{owner.pk}/", None),
        ("get", base + "messages/", None), ("post", base + "messages/", {"body": "hi"}),
        ("get", f"{base}messages/{hidden.pk}/", None),
        ("patch", f"{base}messages/{hidden.pk}/", {"body": "x"}),
        ("delete", f"{base}messages/{hidden.pk}/", None), ("get", base + "presence/", None),
    ]:
        resp = post(client, url, body, method)
        assert resp.status_code == 404, (method, url)
        assert resp.json()["error"]["code"] == "not_found"
    assert api.get(base + "messages/").status_code == 404
    # Guessing the id through a public room finds nothing either.
    services.room_create(creator=user, slug="open", name="Open")
    for method in ("get", "patch", "delete"):
        resp = post(client, f"/api/rooms/open/messages/{hidden.pk}/", {"body": "x"}, method)
        assert resp.status_code == 404
    hidden.refresh_from_db()
    assert hidden.body == "psst" and not hidden.deleted


def test_members_list_add_and_remove(api_as, secret, owner, user, make_user):
    bob = make_user("bob")
    resp = post(api_as(owner), "/api/rooms/secret/members/", {"username": "alice"})
    assert resp.status_code == 201 and resp.json()["user"]["username"] == "alice"
    assert resp.json()["role"] == "member"
    again = post(api_as(owner), "/api/rooms/secret/members/", {"username": "alice"})
    assert again.status_code == 200 and again.json() == resp.json()  # already a member: not new
    resp = post(api_as(user), "/api/rooms/secret/members/", {"user_id": bob.pk})
    assert resp.status_code == 403
    resp = post(api_as(owner), "/api/rooms/secret/members/", {"username": "nobody"})
    assert resp.status_code == 404 and resp.json()["error"]["field"] == "user"
    resp = post(api_as(owner), "/api/rooms/secret/members/", {})
    assert resp.status_code == 400 and resp.json()["error"]["field"] == "username"
    page = api_as(user).get("/api/rooms/secret/members/?page_size=1").json()
    assert [(m["user"]["username"], m["role"]) for m in page["results"]] == [("olga", "owner")]
    rest = api_as(user).get(page["next"]).json()
    assert [(m["user"]["username"], m["role"]) for m in rest["results"]] == [("alice", "member")]
    assert rest["next"] is None
    assert api_as(user).delete(f"/api/rooms/secret/members/{owner.pk}/").status_code == 403
    assert api_as(owner).delete(f"/api/rooms/secret/members/{user.pk}/").status_code == 204
    assert not RoomMembership.objects.filter(room=secret, user=user).exists()
    assert api_as(owner).delete(f"/api/rooms/secret/members/{user.pk}/").status_code == 404


def test_messages_post_list_edit_delete(api_as, api, lobby, owner, user):
    client = api_as(user)
    resp = post(client, "/api/rooms/lobby/messages/", {"body": " hello ", "client_id": "k1"})
    assert resp.status_code == 201
    message = resp.json()
    assert message["body"] == "hello" and message["author"]["username"] == "alice"
    replay = post(client, "/api/rooms/lobby/messages/", {"body": "hello", "client_id": "k1"})
    assert replay.status_code == 200 and replay["Idempotent-Replayed"] == "true"
    assert replay.json() == message and Message.objects.count() == 1
    assert "Idempotent-Replayed" not in resp
    resp = post(client, "/api/rooms/lobby/messages/", {"body": "   "})
    assert resp.status_code == 400 and resp.json()["error"]["field"] == "body"
    resp = post(client, "/api/rooms/lobby/messages/", {"body": "x" * 4001})
    assert resp.status_code == 400 and resp.json()["error"]["field"] == "body"
    url = f"/api/rooms/lobby/messages/{message['id']}/"
    assert post(api_as(owner), url, {"body": "owner edit"}, "patch").status_code == 403
    edited = post(client, url, {"body": "hello again"}, "patch").json()
    assert edited["body"] == "hello again" and edited["edited_at"]
    assert api.get(url).json() == edited  # anonymous readers read public rooms
    tomb = api_as(owner).delete(url).json()
    assert tomb["deleted"] is True and tomb["body"] == ""
    assert api.post("/api/rooms/lobby/messages/", {"body": "anon"}, format="json").status_code == 401


def test_message_list_is_cursor_paginated_newest_first(api, lobby, user):
    for i in range(55):
        services.message_create(room=lobby, author=user, body=f"m{i}", client_id=f"c{i}")
    first = api.get("/api/rooms/lobby/messages/").json()
    assert [m["body"] for m in first["results"][:2]] == ["m54", "m53"] and len(first["results"]) == 50
    second = api.get(first["next"]).json()
    assert [m["body"] for m in second["results"]] == [f"m{i}" for i in range(4, -1, -1)]
    assert second["next"] is None


def test_presence_endpoint_reads_who_is_in_the_room(api, lobby, user):
    import asyncio

    from realtime import presence

    asyncio.run(presence.join("room:lobby", user.public_dict(), "conn-1"))
    assert api.get("/api/rooms/lobby/presence/").json() == {"presence": [user.public_dict()]}
    assert api.get("/api/rooms/").json()["results"][0]["presence"] == [user.public_dict()]


def test_chat_endpoints_are_in_the_openapi_schema(api):
    schema = api.get("/api/schema/?format=json").json()
    paths = schema["paths"]
    for path in ("/api/rooms/", "/api/rooms/{slug}/", "/api/rooms/{slug}/members/",
                 "/api/rooms/{slug}/members/{user_id}/", "/api/rooms/{slug}/messages/",
                 "/api/rooms/{slug}/messages/{message_id}/", "/api/rooms/{slug}/presence/"):
        assert path in paths
    post_body = paths["/api/rooms/{slug}/messages/"]["post"]["requestBody"]["content"]["application/json"]
    assert post_body["schema"]["$ref"].endswith("/MessageCreateRequest")
    assert "unread" in schema["components"]["schemas"]["Room"]["properties"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("hub_cleanup")
async def test_a_rest_post_reaches_socket_subscribers(api_as, lobby, user):
    from tests.ws import connect_ws

    client = await sync_to_async(api_as)(user)
    async with connect_ws(user) as ws:
        await ws.request("subscribe", "room:lobby")
        resp = await sync_to_async(post)(client, "/api/rooms/lobby/messages/", {"body": "via REST"})
        event = await ws.next_event()
        assert event["event"] == "chat.message" and event["data"]["message"] == resp.json()
