"""A feed made private in the admin revokes its anonymous subscribers (through
feeds.services.feed_update, which sees the stored state), as the REST PATCH does."""

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from feeds import services
from feeds.models import Feed
from tests.feeds.conftest import make_event
from tests.ws import connect_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]


def superuser_client(make_user):
    client = Client()
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


async def test_a_feed_made_private_in_the_admin_revokes_anonymous_subscribers(make_user):
    feed = await sync_to_async(Feed.objects.create)(slug="news", title="News", is_public=True)
    client = await sync_to_async(superuser_client)(make_user)
    async with connect_ws(origin="http://localhost") as anonymous:
        await anonymous.request("subscribe", "feed:news")
        response = await sync_to_async(client.post)(
            f"/admin/feeds/feed/{feed.pk}/change/",
            {"title": "News", "description": "", "_save": "1"})  # is_public unticked
        assert response.status_code == 302
        event = await anonymous.next_event()
        assert (event["event"], event["topic"], event["data"]) == ("subscription.revoked", "feed:news", {})
        await sync_to_async(services.item_upsert)(feed=await sync_to_async(Feed.objects.get)(pk=feed.pk),
                                                  data=make_event(id="private-1", title="internal"))
        assert await anonymous.expect_silence(0.5)
    assert not (await sync_to_async(Feed.objects.get)(pk=feed.pk)).is_public
