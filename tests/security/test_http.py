"""HTTP-side security: REST write throttling (429 + Retry-After), revoked tokens, CSRF on
the login form and on session-authenticated REST writes, and ALLOWED_HOSTS in production
settings."""

import os
import subprocess
import sys

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.servers import ROOT

pytestmark = pytest.mark.django_db


@pytest.fixture
def write_rate(settings, monkeypatch):
    """write_rate("3/min"): the global REST write throttle at that rate, for real.

    REST_FRAMEWORK is read into DRF's api_settings (reloaded on setting_changed), but
    SimpleRateThrottle copied DEFAULT_THROTTLE_RATES into a class attribute at import:
    point it at the reloaded dict too (monkeypatch restores it)."""
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    def set_rate(rate):
        rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "writes": rate}
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
        monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", api_settings.DEFAULT_THROTTLE_RATES)

    return set_rate


def test_rest_writes_are_throttled_with_429_and_retry_after(write_rate, api_as, user, make_user):
    write_rate("3/min")
    client = api_as(user)
    for n in range(3):
        assert client.post("/api/rooms/", {"slug": f"r{n}", "name": "R"}, format="json").status_code == 201
    response = client.post("/api/rooms/", {"slug": "r3", "name": "R"}, format="json")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert 0 < int(response["Retry-After"]) <= 61  # DRF rounds the remaining window up
    # Reads are not throttled, and the limit is per user: another user still writes.
    assert client.get("/api/rooms/").status_code == 200
    other = api_as(make_user("other"))
    assert other.post("/api/rooms/", {"slug": "o1", "name": "O"}, format="json").status_code == 201


def test_password_guessing_through_the_token_endpoint_is_throttled(write_rate, api):
    write_rate("2/min")  # the login scope (30/min per address) applies too; writes bite first
    statuses = [api.post("/api/auth/token/", {"username": "x", "password": "y"}, format="json").status_code
                for _ in range(3)]
    assert statuses == [400, 400, 429]


def test_a_revoked_token_stops_working_for_tickets_and_so_for_new_connections(api, user):
    token = Token.objects.create(user=user)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.post("/api/auth/ticket/").status_code == 200
    token.delete()
    response = api.post("/api/auth/ticket/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert api.get("/api/rooms/").status_code == 401  # a bad token is refused, not read as anonymous
    # A new token (POST /api/auth/token/) is a different key; the old one stays dead.
    fresh = APIClient().post("/api/auth/token/", {"username": "alice", "password": "pw-alice"}, format="json")
    assert fresh.status_code == 200 and fresh.json()["token"] != token.key
    assert api.post("/api/auth/ticket/").status_code == 401


def test_revoking_a_token_voids_the_tickets_it_issued(api, user, django_capture_on_commit_callbacks):
    from realtime.auth import TICKET_PREFIX
    from realtime.redis import sync_client

    token = Token.objects.create(user=user)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    ticket = api.post("/api/auth/ticket/").json()["ticket"]
    assert sync_client().exists(TICKET_PREFIX + ticket)
    with django_capture_on_commit_callbacks(execute=True):
        token.delete()
    assert not sync_client().exists(TICKET_PREFIX + ticket)


def test_the_login_form_needs_its_csrf_token(user):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    client.get("/accounts/login/")
    response = client.post("/accounts/login/", {"username": "alice", "password": "pw-alice",
                                                "csrfmiddlewaretoken": client.cookies["csrftoken"].value})
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.parametrize("method, path, body", [
    ("post", "/api/rooms/", {"slug": "csrf", "name": "C"}),
    ("post", "/api/auth/ticket/", None),
    ("post", "/api/feeds/", {"slug": "f", "title": "F"}),
])
def test_session_authenticated_rest_writes_need_the_csrf_token(staff, method, path, body):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    response = getattr(client, method)(path, body, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert "CSRF" in response.json()["error"]["message"]
    client.get("/accounts/login/")  # sets the csrftoken cookie
    response = getattr(client, method)(path, body, content_type="application/json",
                                       HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert response.status_code in (200, 201)


def test_logout_is_a_post_with_the_csrf_token(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post("/accounts/logout/").status_code == 403
    assert client.session.get("_auth_user_id") == str(user.pk)
    assert client.get("/accounts/logout/").status_code == 405


def _import_production_settings(**env):
    """Imports project.settings in a fresh process as production would (no test markers)."""
    full = {key: value for key, value in os.environ.items()
            if key not in ("SWITCHBOARD_TESTING", "PYTEST_CURRENT_TEST", "DEBUG", "ALLOWED_HOSTS")}
    full.update({"DJANGO_SETTINGS_MODULE": "project.settings", "SECRET_KEY": "s" * 60, **env})
    code = "import django; django.setup(); from django.conf import settings; print(settings.ALLOWED_HOSTS)"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=full, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("hosts", ["*", "example.com,*", " * ,example.com"])
@pytest.mark.parametrize("debug", ["0", "1"])
def test_settings_refuse_a_wildcard_in_allowed_hosts(hosts, debug):
    result = _import_production_settings(DEBUG=debug, ALLOWED_HOSTS=hosts)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS may not contain '*'" in result.stderr


def test_production_settings_hold_exactly_the_given_hosts():
    result = _import_production_settings(DEBUG="0", ALLOWED_HOSTS="example.com,.example.org")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['example.com', '.example.org']"


def test_password_guessing_through_the_login_form_is_throttled(client, settings, monkeypatch):
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login": "3/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", api_settings.DEFAULT_THROTTLE_RATES)
    statuses = [client.post("/accounts/login/", {"username": "x", "password": f"guess{n}"}).status_code
                for n in range(4)]
    assert statuses == [200, 200, 200, 429]
    blocked = client.post("/accounts/login/", {"username": "x", "password": "again"})
    assert blocked.status_code == 429 and int(blocked["Retry-After"]) > 0
    assert b"Too many attempts" in blocked.content
