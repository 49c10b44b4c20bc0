"""GET /metrics exposes this process's realtime metrics in Prometheus text format."""

import pytest
from asgiref.sync import sync_to_async

from realtime.publish import publish
from tests.ws import connect_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]


def sample(text, name, **labels):
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


async def test_metrics_count_connections_frames_events_errors_and_latency(user, client):
    get = sync_to_async(lambda: client.get("/metrics").content.decode())
    before = await get()
    async with connect_ws(user) as ws:
        await ws.request("subscribe", f"user:{user.pk}")
        await ws.send("garbage")
        await ws.receive()
        await sync_to_async(publish)(f"user:{user.pk}", "notification", {})
        await ws.next_event()
        during = await get()
        assert sample(during, "switchboard_connections") == sample(before, "switchboard_connections") + 1
        assert sample(during, "switchboard_subscriptions") == sample(before, "switchboard_subscriptions") + 1

    def grew(name, **labels):  # process-wide counters: what this test added, not a total
        return sample(during, name, **labels) - sample(before, name, **labels)

    assert grew("switchboard_frames_in_total", action="subscribe") == 1
    assert grew("switchboard_errors_total", code="bad_request") == 1
    assert grew("switchboard_frames_out_total", event="notification") == 1
    assert grew("switchboard_publish_to_deliver_seconds_count") == 1


# --- who may read /metrics ----------------------------------------------------------------
def test_metrics_answer_a_direct_loopback_caller(client):
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200 and b"switchboard_connections" in response.content


@pytest.mark.parametrize("extra", [{"REMOTE_ADDR": "203.0.113.9"},
                                   {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}])
def test_metrics_are_a_404_for_anyone_else_when_no_token_is_set(client, settings, extra):
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics", **extra)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert b"switchboard_" not in response.content


def test_metrics_need_the_bearer_token_from_elsewhere_when_one_is_set(client, settings):
    settings.METRICS_TOKEN = "s3cret-scrape-token"
    remote = {"REMOTE_ADDR": "203.0.113.9"}
    for header in (None, "Bearer wrong", "Bearer s3cret-scrape-toke", "Token s3cret-scrape-token"):
        response = client.get("/metrics", **remote, **({"HTTP_AUTHORIZATION": header} if header else {}))
        assert response.status_code == 401 and response.json()["error"]["code"] == "unauthenticated"
        assert response["WWW-Authenticate"].startswith("Bearer")
    ok = client.get("/metrics", **remote, HTTP_AUTHORIZATION="Bearer s3cret-scrape-token")
    assert ok.status_code == 200 and b"switchboard_connections" in ok.content
