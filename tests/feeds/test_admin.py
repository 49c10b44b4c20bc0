"""The admin goes through the services: edits publish, deletes are tombstones, failed
batches can be retried."""

import pytest

from feeds import services
from feeds.models import Feed, FeedItem, IngestBatch
from feeds.tasks import ingest_batch
from realtime.models import Event
from tests.feeds.conftest import make_event

pytestmark = pytest.mark.django_db


def published(topic="feed:news"):
    return list(Event.objects.filter(topic=topic).order_by("seq").values_list("event", "data"))


def item_form(item, **changes):
    form = {"kind": item.kind, "title": item.title, "body": item.body, "url": item.url,
            "data": '{"n": 1}', "occurred_at_0": "2025-01-31", "occurred_at_1": "12:00:00"}
    form.update(changes)
    return form


def test_editing_an_item_in_the_admin_publishes_it_one_version_up(feed, admin_client):
    _, item = services.item_upsert(feed=feed, data=make_event(id="a", version=3))
    response = admin_client.post(f"/admin/feeds/feeditem/{item.pk}/change/", item_form(item, title="Fixed"))
    assert response.status_code == 302, response.content.decode()[:3000]
    item.refresh_from_db()
    assert (item.title, item.version) == ("Fixed", 4)
    name, data = published()[-1]
    assert (name, data["item"]["title"], data["item"]["version"]) == ("feed.item", "Fixed", 4)


def test_the_admin_form_applies_the_event_rules(feed, admin_client):
    _, item = services.item_upsert(feed=feed, data=make_event(id="a"))
    response = admin_client.post(f"/admin/feeds/feeditem/{item.pk}/change/",
                                 item_form(item, url="javascript:alert(1)"))
    assert response.status_code == 200
    assert "http(s) URL" in response.content.decode()
    assert FeedItem.objects.get(pk=item.pk).url == "https://example.com/a"


def test_adding_an_item_in_the_admin_publishes_it(feed, admin_client):
    response = admin_client.post("/admin/feeds/feeditem/add/", {
        "feed": feed.pk, "external_id": "manual", "kind": "note", "title": "By hand", "body": "",
        "url": "", "data": "{}", "occurred_at_0": "2025-02-01", "occurred_at_1": "08:00:00",
        "version": "1"})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert FeedItem.objects.get(external_id="manual").title == "By hand"
    assert published()[-1][1]["item"]["external_id"] == "manual"


def test_deleting_items_in_the_admin_leaves_published_tombstones(feed, admin_client):
    _, item = services.item_upsert(feed=feed, data=make_event(id="a"))
    assert admin_client.get(f"/admin/feeds/feeditem/{item.pk}/delete/").status_code == 403
    response = admin_client.post("/admin/feeds/feeditem/", {
        "action": "tombstone_items", "_selected_action": [item.pk]})
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.deleted, item.version) == (True, 2)
    assert published()[-1][1]["item"]["deleted"] is True


def test_feeds_are_created_in_the_admin_through_the_service(admin_client):
    response = admin_client.post("/admin/feeds/feed/add/", {"slug": "alerts", "title": "Alerts",
                                                            "description": "", "is_public": "on"})
    assert response.status_code == 302
    assert Feed.objects.get(slug="alerts").title == "Alerts"


def test_failed_batches_are_shown_and_can_be_retried(feed, admin_client, monkeypatch,
                                                     django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr(ingest_batch, "delay", lambda batch_id: sent.append(batch_id))
    failed = services.queue_events(source=None, events=[make_event()])
    done = services.queue_events(source=None, events=[make_event()])
    services.mark_batch_failed(failed.pk, "OperationalError: gone")
    IngestBatch.objects.filter(pk=done.pk).update(status="done")
    listing = admin_client.get("/admin/feeds/ingestbatch/?status=failed").content.decode()
    assert f"/admin/feeds/ingestbatch/{failed.pk}/change/" in listing
    detail = admin_client.get(f"/admin/feeds/ingestbatch/{failed.pk}/change/").content.decode()
    assert "OperationalError: gone" in detail
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/admin/feeds/ingestbatch/", {
            "action": "retry_failed_batches", "_selected_action": [failed.pk, done.pk]})
    assert response.status_code == 302
    assert sent == [failed.pk]
    assert IngestBatch.objects.get(pk=failed.pk).status == "queued"
    assert IngestBatch.objects.get(pk=done.pk).status == "done"
    assert admin_client.get("/admin/feeds/ingestbatch/add/").status_code == 403
