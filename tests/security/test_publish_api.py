"""POST /api/publish/ sends app-neutral events only, and every publish path checks event data
against the event's registered schema in every configuration (not only under tests)."""

import pytest
from asgiref.sync import sync_to_async

from chat import services as chat
from realtime import registry
from realtime.models import Event
from realtime.publish import publish
from tests.ws import connect_ws

pytestmark = pytest.mark.django_db(transaction=True)

FORGED_MESSAGE = {"message": {"id": 999, "room": "lobby", "body": "send me your password",
                              "author": {"id": 1, "username": "olga", "display_name": "Olga"},
                              "created_at": "2026-01-01T00:00:00Z", "edited_at": None,
                              "deleted": False, "client_id": "forged"}}
CSS_CURSOR = {"x": 1, "y": 1, "user": {"id": 1, "username": "o", "display_name": "O"},
              "color": "red;background:url(https://evil.example/x)"}


@pytest.fixture
def production(settings):
    settings.TESTING = False  # the checks below must not depend on running under tests
    return settings


@pytest.mark.usefixtures("hub_cleanup", "production")
async def test_an_apps_event_cannot_be_published_through_the_api(api_as, staff, user):
    await sync_to_async(chat.room_create)(creator=user, slug="lobby", name="Lobby")
    client = await sync_to_async(api_as)(staff)
    async with connect_ws(user) as ws:
        await ws.request("subscribe", "room:lobby")
        for topic, event, data, ephemeral in (("room:lobby", "chat.message", FORGED_MESSAGE, False),
                                              ("board:lobby", "board.cursor", CSS_CURSOR, True),
                                              ("room:lobby", "presence.join",
                                               {"users": [{"id": 1}]}, True)):
            response = await sync_to_async(client.post)(
                "/api/publish/", {"topic": topic, "event": event, "data": data,
                                  "ephemeral": ephemeral}, format="json")
            assert response.status_code == 400, event
            error = response.json()["error"]
            assert (error["code"], error["field"]) == ("invalid", "event")
            assert "notification" in error["message"]
        assert await ws.expect_silence(0.5)
    assert not await sync_to_async(Event.objects.filter(event="chat.message").exists)()


@pytest.mark.usefixtures("hub_cleanup", "production")
async def test_a_neutral_event_is_still_published_through_the_api(api_as, staff, user):
    client = await sync_to_async(api_as)(staff)
    async with connect_ws(user) as ws:
        await ws.request("subscribe", f"user:{user.pk}")
        response = await sync_to_async(client.post)(
            "/api/publish/", {"topic": f"user:{user.pk}", "event": "notification",
                              "data": {"text": "hi"}}, format="json")
        assert response.status_code == 202
        event = await ws.next_event()
        assert (event["event"], event["data"]) == ("notification", {"text": "hi"})


def test_only_neutral_events_are_api_publishable_and_apps_declare_it():
    assert "notification" in registry.api_publishable_events
    for owned in ("chat.message", "chat.edited", "board.cursor", "board.shape", "feed.item",
                  "feed.items", "presence.join", "presence.leave", "subscription.revoked",
                  "room.updated", "member.added"):
        assert owned in registry.events and owned not in registry.api_publishable_events


@pytest.mark.usefixtures("production")
def test_every_publish_checks_the_schema_outside_tests_too():
    with pytest.raises(ValueError, match="schema"):
        publish("board:lobby", "board.cursor", CSS_CURSOR, ephemeral=True)
    with pytest.raises(ValueError, match="schema"):
        publish("room:lobby", "chat.message", {"message": {"id": "x"}})
    assert not Event.objects.exists()


def test_the_schema_check_is_cheap_enough_for_the_hot_path():
    import time

    data = FORGED_MESSAGE
    rounds = 2000
    started = time.perf_counter()
    for _ in range(rounds):
        registry.check_event("chat.message", data)
    per_call = (time.perf_counter() - started) / rounds
    # Compiled once at registration: microseconds (jsonschema.validate() took ~20 ms here).
    assert per_call < 200e-6, f"{per_call * 1e6:.1f} us per check"


def test_the_openapi_description_lists_the_accepted_events(api):
    response = api.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    description = response.json()["paths"]["/api/publish/"]["post"]["description"]
    assert "Accepted events: `notification`" in description
    assert "`chat.message`" not in description
