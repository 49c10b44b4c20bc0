"""/api/webhooks/ (staff or realtime.manage_webhooks; the secret only in the create and
rotate answers) and the admin (secret page once, rotate, the disabled flag shown to the
owner, every attempt on a delivery's page, the resend action), with Django's test client."""

import json
import re

import pytest
from django.contrib.auth.models import Permission

from chat import services as chat
from realtime.webhooks import hook
from realtime.webhooks.models import Attempt, Delivery, WebhookEndpoint
from tests.realtime import webhook_receiver as webhook_fixtures
from tests.realtime.webhook_receiver import register, run_all, verify

pytestmark = pytest.mark.django_db(transaction=True)
receiver = webhook_fixtures.receiver  # the real HTTP receiver fixture

BODY = {"url": "https://hooks.example.com/in", "events": ["chat.message", "room.occupied"],
        "topic_filter": "room:*", "description": "CRM"}


@pytest.fixture(autouse=True)
def _fresh_cache():
    hook.invalidate()
    yield
    hook.invalidate()


def test_staff_create_list_read_change_and_delete_an_endpoint(api_as, staff):
    api = api_as(staff)
    created = api.post("/api/webhooks/", BODY, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["owner"] == "staffer"
    assert body["events"] == ["chat.message", "room.occupied"] and body["enabled"] is True
    pk = body["id"]
    assert WebhookEndpoint.objects.get(pk=pk).secret == body["secret"]
    listed = api.get("/api/webhooks/").json()
    assert [e["id"] for e in listed["results"]] == [pk]
    assert "secret" not in listed["results"][0]
    read = api.get(f"/api/webhooks/{pk}/").json()
    assert "secret" not in read and read["url"] == BODY["url"]
    changed = api.patch(f"/api/webhooks/{pk}/", {"events": ["board.cleared"], "enabled": False},
                        format="json")
    assert changed.status_code == 200 and changed.json()["events"] == ["board.cleared"]
    assert changed.json()["enabled"] is False and "secret" not in changed.json()
    rotated = api.post(f"/api/webhooks/{pk}/rotate-secret/")
    assert rotated.status_code == 200 and rotated.json()["secret"] != body["secret"]
    assert WebhookEndpoint.objects.get(pk=pk).secret == rotated.json()["secret"]
    assert api.get(f"/api/webhooks/{pk}/deliveries/").json()["results"] == []
    assert api.delete(f"/api/webhooks/{pk}/").status_code == 204
    assert api.get(f"/api/webhooks/{pk}/").json()["error"]["code"] == "not_found"


def test_the_permission_lets_a_non_staff_user_manage_endpoints(api_as, make_user):
    manager = make_user("integrator")
    manager.user_permissions.add(Permission.objects.get(codename="manage_webhooks"))
    assert api_as(manager).post("/api/webhooks/", BODY, format="json").status_code == 201


def test_others_are_refused(api, api_as, user):
    assert api.get("/api/webhooks/").json()["error"]["code"] == "unauthenticated"
    refused = api_as(user).post("/api/webhooks/", BODY, format="json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert api_as(user).get("/api/webhooks/").status_code == 403


@pytest.mark.parametrize(("change", "field"), [
    ({"url": "http://hooks.example.com/in"}, "url"),  # https only outside DEBUG
    ({"url": "https://127.0.0.1/in"}, "url"),
    ({"url": "ftp://example.com/"}, "url"),
    ({"events": []}, "events"),
    ({"events": ["chat.typing"]}, "events"),
    ({"events": "chat.message"}, "events"),
    ({"topic_filter": "room lobby"}, "topic_filter"),
])
def test_bad_input_is_a_clear_400(api_as, staff, change, field):
    answer = api_as(staff).post("/api/webhooks/", {**BODY, **change}, format="json")
    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert error["code"] == "invalid" and error["field"].split(".")[0] == field


def test_the_endpoints_are_in_the_openapi_schema(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path in ("/api/webhooks/", "/api/webhooks/{id}/", "/api/webhooks/{id}/rotate-secret/",
                 "/api/webhooks/{id}/deliveries/"):
        assert path in schema["paths"], sorted(schema["paths"])


@pytest.fixture
def admin_client(client, make_user):
    superuser = make_user("boss", is_staff=True, is_superuser=True)
    client.force_login(superuser)
    client.user = superuser
    return client


def test_the_admin_shows_the_secret_once_and_rotates_it(admin_client, settings):
    answer = admin_client.post("/admin/realtime/webhookendpoint/add/", {
        "url": "https://hooks.example.com/in", "description": "", "events": ["chat.message"],
        "topic_filter": "", "enabled": "on"})
    assert answer.status_code == 200, answer.content[:2000]
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret in answer.content.decode() and endpoint.owner == admin_client.user
    assert f'href="/admin/realtime/webhookendpoint/{endpoint.pk}/change/"' in answer.content.decode()
    page = admin_client.get(f"/admin/realtime/webhookendpoint/{endpoint.pk}/change/").content.decode()
    assert endpoint.secret not in page
    rotated = admin_client.post("/admin/realtime/webhookendpoint/", {
        "action": "rotate_secret", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()
    assert endpoint.secret in rotated.content.decode()
    assert re.search(r'id="webhook-secret">whsec_', rotated.content.decode())


def test_the_admin_refuses_a_private_url_with_a_form_error(admin_client):
    answer = admin_client.post("/admin/realtime/webhookendpoint/add/", {
        "url": "https://10.0.0.1/in", "events": ["chat.message"], "enabled": "on"})
    assert answer.status_code == 200 and "not a public address" in answer.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_a_disabled_endpoint_is_flagged_to_its_owner(admin_client):
    endpoint = WebhookEndpoint.objects.create(
        url="https://hooks.example.com/in", events=["chat.message"], owner=admin_client.user,
        secret="whsec_x", enabled=False, disabled_reason="Every delivery failed for 24 h.")
    listing = admin_client.get("/admin/realtime/webhookendpoint/").content.decode()
    assert "is disabled: Every delivery failed for 24 h." in listing
    assert "<strong>disabled</strong>" in listing
    page = admin_client.get(f"/admin/realtime/webhookendpoint/{endpoint.pk}/change/").content.decode()
    assert "Every delivery failed for 24 h." in page


def test_attempts_are_shown_and_resend_sends_the_same_event_again(admin_client, staff, receiver):
    rx = receiver(statuses=[500])
    endpoint, secret = register(staff, rx.url, ["chat.message"])
    room = chat.room_create(creator=staff, slug="lobby", name="Lobby")
    chat.message_create(room=room, author=staff, body="again")
    run_all(endpoint)  # 500
    Delivery.objects.update(next_attempt_at=Delivery.objects.get().created_at)
    run_all(endpoint)  # 200
    original = Delivery.objects.get()
    page = admin_client.get(f"/admin/realtime/delivery/{original.pk}/change/").content.decode()
    assert page.count("not now") == 1 and "received" in page and "500" in page
    answer = admin_client.post("/admin/realtime/delivery/", {
        "action": "resend", "_selected_action": [original.pk]})
    assert answer.status_code == 302
    fresh = Delivery.objects.exclude(pk=original.pk).get()
    assert fresh.event_id == original.event_id and fresh.status == Delivery.PENDING
    run_all(endpoint)
    requests = rx.wait_for(3)
    assert len({json.loads(body)["id"] for _, _, body in requests}) == 1
    assert verify(secret, requests[-1][1], requests[-1][2])
    assert Attempt.objects.filter(delivery=fresh, ok=True).count() == 1
