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
