"""REST endpoints of the realtime layer: tickets, server-side publish, connections."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission

from realtime.models import Connection, Event
from tests.ws import connect_ws

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_ticket_needs_authentication(api):
    response = api.post("/api/auth/ticket/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_session_authenticated_ticket_requests_need_csrf(user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post("/api/auth/ticket/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_publish_needs_staff_or_the_permission(api_as, make_user):
    plain = make_user("plain")
    response = api_as(plain).post("/api/publish/", {"topic": f"user:{plain.pk}", "event": "notification",
                                                    "data": {}}, format="json")
    assert response.status_code == 403
    plain.user_permissions.add(Permission.objects.get(codename="publish_event"))
    plain = type(plain).objects.get(pk=plain.pk)  # permission cache
    response = api_as(plain).post("/api/publish/", {"topic": f"user:{plain.pk}", "event": "notification",
                                                    "data": {"hi": 1}}, format="json")
    assert response.status_code == 202 and response.json()["seq"] == 1
    assert Event.objects.get().data == {"hi": 1}


@pytest.mark.parametrize("body, field", [
    ({"event": "notification"}, "topic"),
    ({"topic": "nope", "event": "notification"}, "topic"),
    ({"topic": "galaxy:x", "event": "notification"}, "topic"),
    ({"topic": "user:1", "event": "Not An Event"}, "event"),
    ({"topic": "user:1", "event": "made.up"}, "event"),
    ({"topic": "user:1", "event": "notification", "data": [1]}, "data"),
])
def test_publish_rejects_bad_bodies_with_the_field_named(api_as, staff, body, field):
    response = api_as(staff).post("/api/publish/", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    assert not Event.objects.exists()


@pytest.mark.usefixtures("hub_cleanup")
async def test_publish_to_a_topic_and_to_one_connection_reaches_the_socket(api_as, staff, user):
    client = await sync_to_async(api_as)(staff)
    async with connect_ws(user) as ws:
        await ws.request("subscribe", f"user:{user.pk}")
        response = await sync_to_async(client.post)(
            "/api/publish/", {"topic": f"user:{user.pk}", "event": "notification", "data": {"a": 1}},
            format="json")
        assert response.status_code == 202
        event = await ws.next_event()
        assert (event["event"], event["seq"], event["data"]) == ("notification", 1, {"a": 1})
        row = None
        for _ in range(50):  # the connection log is written in batches every 0.2 s
            row = await sync_to_async(Connection.objects.filter(user=user, closed_at__isnull=True).first)()
            if row:
                break
            await asyncio.sleep(0.1)
        response = await sync_to_async(client.post)(
            "/api/publish/", {"connection_id": str(row.id), "event": "notification", "data": {"only": "you"}},
            format="json")
        assert response.status_code == 202
        event = await ws.next_event()
        assert (event["topic"], event["seq"], event["data"]) == (None, None, {"only": "you"})


def test_connections_are_listed_for_staff_only(api_as, staff, user):
    Connection.objects.create(user=user, server_instance="test-1", client_address="127.0.0.1")
    assert api_as(user).get("/api/connections/").status_code == 403
    response = api_as(staff).get("/api/connections/?open=1")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(r["username"], r["server_instance"]) for r in rows] == [("alice", "test-1")]


def test_the_sweep_closes_rows_of_dead_instances_only(user):
    from realtime.redis import sync_client
    from realtime.tasks import sweep_connections

    sync_client().set("sb:inst:alive-1", 1, ex=60)
    alive = Connection.objects.create(user=user, server_instance="alive-1")
    dead = Connection.objects.create(user=user, server_instance="dead-1")
    assert sweep_connections() == 1
    alive.refresh_from_db()
    dead.refresh_from_db()
    assert alive.closed_at is None
    assert dead.closed_at is not None and dead.close_code == 1006


def test_connections_are_read_only_in_the_admin(client, make_user, user):
    admin = make_user("root", is_staff=True, is_superuser=True)
    row = Connection.objects.create(user=user, server_instance="x")
    client.force_login(admin)
    assert client.get("/admin/realtime/connection/").status_code == 200
    assert client.get("/admin/realtime/connection/add/").status_code == 403
    page = client.get(f"/admin/realtime/connection/{row.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
