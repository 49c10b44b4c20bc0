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


def test_readyz_is_503_naming_an_unreachable_database(client):
    """PostgreSQL on a port nobody listens on: the check fails fast and is named."""
    from django.db import connections

    conn = connections["default"]
    if conn.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: an SQLite file cannot be made unreachable")
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
