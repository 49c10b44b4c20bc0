"""The database goes away: sockets answer `unavailable` and survive; REST answers 503 JSON;
everything works again once it is back.  The outage is real (connections are refused or
the file cannot be opened), not a mock."""

import contextlib

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from realtime.publish import publish
from tests.ws import ProtocolErrorFrame, connect_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]


def take_database_down():
    """Points every new database connection at nothing; returns what restores it."""
    shared = connections.settings["default"]  # what each thread's connection is built from
    saved = dict(shared)
    conn = connections["default"]
    if conn.vendor == "postgresql":
        conn.close_pool()
        shared["PORT"] = 1
    else:
        shared["NAME"] = "/nonexistent-dir/switchboard.sqlite3"
    conn.close()
    return saved


def bring_database_back(saved):
    shared = connections.settings["default"]
    shared.clear()
    shared.update(saved)
    conn = connections["default"]
    if conn.vendor == "postgresql":
        conn.close_pool()
    conn.close()


@contextlib.contextmanager
def database_down():
    saved = take_database_down()
    try:
        yield
    finally:
        bring_database_back(saved)


@contextlib.asynccontextmanager
async def adatabase_down():
    saved = await sync_to_async(take_database_down)()
    try:
        yield
    finally:
        await sync_to_async(bring_database_back)(saved)


async def test_socket_actions_answer_unavailable_and_the_connection_survives(user, open_kind):
    topic = f"user:{user.pk}"
    async with connect_ws(user) as ws:
        await ws.request("subscribe", topic)
        async with adatabase_down():
            with pytest.raises(ProtocolErrorFrame) as err:
                # PostgreSQL: the pool waits DATABASE_POOL_TIMEOUT for a connection first.
                await ws.request("subscribe", "open:needs-the-outbox", timeout=20)
            assert err.value.code == "unavailable"
            assert "pong" in await ws.request("ping")  # no database needed
        # Back: the same connection works, subscriptions intact.
        await ws.request("subscribe", "open:needs-the-outbox")
        await sync_to_async(publish)(topic, "notification", {"after": "outage"})
        assert (await ws.next_event())["data"] == {"after": "outage"}


def test_rest_answers_503_with_a_json_error_while_the_database_is_down(api_as, user):
    client = api_as(user)
    with database_down():
        response = client.post("/api/auth/ticket/")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
    assert response["Retry-After"]
    assert client.post("/api/auth/ticket/").status_code == 200


def test_readyz_names_the_database_while_it_is_down(client):
    with database_down():
        response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["failing"] == ["database"]
    assert client.get("/readyz").status_code == 200
