"""/healthz and /readyz against the real database, Redis and broker."""

import pytest
from channels.layers import channel_layers

pytestmark = pytest.mark.django_db(transaction=True)


def test_healthz_answers_while_the_process_lives(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_each_dependency(client):
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["failing"] == []
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["channel_layer"]["ok"] is True
    assert "redis" in body["checks"]["channel_layer"]
    assert body["checks"]["broker"]["ok"] is True
    # No worker runs in this test: reported, but readiness does not depend on it.
    assert body["checks"]["workers"]["count"] == 0


def test_readyz_is_503_naming_an_unreachable_broker(client, monkeypatch):
    # Through the environment, which Celery's broker_url/_read_url/_write_url all read first:
    # patching the settings would save broker_write_url *derived from the patched broker_url*
    # and restore that, leaving every later test with an unreachable broker.
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["broker"]


def test_readyz_is_503_naming_an_unreachable_channel_layer(client, settings):
    settings.CHANNEL_LAYERS = {"default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [{"address": "redis://127.0.0.1:1/0", "socket_connect_timeout": 0.5}]},
    }}
    saved = dict(channel_layers.backends)
    channel_layers.backends.clear()
    try:
        response = client.get("/readyz")
    finally:
        channel_layers.backends.clear()
        channel_layers.backends.update(saved)
    assert response.status_code == 503
    assert "channel_layer" in response.json()["failing"]


@pytest.mark.postgres  # an SQLite file cannot be made unreachable this way
def test_readyz_is_503_naming_an_unreachable_database(client):
    """PostgreSQL on a port nobody listens on: the check fails fast and is named."""
    from django.db import connections

    conn = connections["default"]
    shared = connections.settings["default"]  # what each thread's connection is built from
    saved_port = shared["PORT"]
    conn.close_pool()
    shared["PORT"] = 1
    try:
        response = client.get("/readyz")
    finally:
        shared["PORT"] = saved_port
        conn.close_pool()
    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]


# --- who sees the details -------------------------------------------------------------
REMOTE = {"REMOTE_ADDR": "203.0.113.7"}


@pytest.fixture(autouse=True)
def _fresh_worker_ping():
    """Each test starts without a remembered worker ping."""
    from project import health

    health._workers.update(at=None, result=None, task=None)


def test_readyz_gives_a_remote_anonymous_caller_the_status_alone(client):
    response = client.get("/readyz", **REMOTE)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_a_request_proxied_from_loopback_is_not_local(client):
    response = client.get("/readyz", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert response.json() == {"status": "ok"}


def test_readyz_gives_a_remote_anonymous_caller_unavailable_alone(client, monkeypatch):
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")  # as above
    response = client.get("/readyz", **REMOTE)
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}


def test_staff_see_the_details_by_session_or_token(client, staff, user):
    from rest_framework.authtoken.models import Token

    client.force_login(staff)
    assert "checks" in client.get("/readyz", **REMOTE).json()
    client.logout()
    staff_token = Token.objects.create(user=staff).key
    body = client.get("/readyz", HTTP_AUTHORIZATION=f"Token {staff_token}", **REMOTE).json()
    assert body["failing"] == [] and "workers" in body["checks"]
    user_token = Token.objects.create(user=user).key
    for header in (f"Token {user_token}", "Token not-a-token"):
        assert client.get("/readyz", HTTP_AUTHORIZATION=header, **REMOTE).json() == {"status": "ok"}


@pytest.fixture
def ping_count(monkeypatch):
    """Counts the real Celery broadcast pings /readyz sends."""
    from project.celery import app

    calls = []
    real_ping = app.control.ping

    def counted(*args, **kwargs):
        calls.append(1)
        return real_ping(*args, **kwargs)

    monkeypatch.setattr(app.control, "ping", counted)
    return calls


def test_a_flood_of_probes_costs_one_worker_ping_per_interval(client, settings, ping_count):
    settings.READYZ_WORKER_PING_CACHE_SECONDS = 60
    for _ in range(5):
        assert client.get("/readyz").status_code == 200
    assert len(ping_count) == 1
    settings.READYZ_WORKER_PING_CACHE_SECONDS = 0  # expired: the next probe pings again
    client.get("/readyz")
    assert len(ping_count) == 2


async def test_concurrent_probes_share_one_ping_in_flight(async_client, ping_count):
    import asyncio

    responses = await asyncio.gather(*(async_client.get("/readyz") for _ in range(8)))
    assert [r.status_code for r in responses] == [200] * 8
    assert len(ping_count) == 1
