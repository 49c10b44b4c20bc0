import pytest
from asgiref.sync import sync_to_async

from realtime.publish import publish
from tests.ws import connect_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]


async def test_ping_and_publish_reaches_subscriber(user):
    async with connect_ws(user) as ws:
        assert ws.accepted
        reply = await ws.request("ping")
        assert "pong" in reply
        sub = await ws.request("subscribe", f"user:{user.pk}")
        assert sub["seq"] == 0
        seq = await sync_to_async(publish)(f"user:{user.pk}", "notification", {"x": 1})
        event = await ws.next_event()
        assert event == {"type": "event", "topic": f"user:{user.pk}", "event": "notification",
                         "seq": seq, "data": {"x": 1}}
