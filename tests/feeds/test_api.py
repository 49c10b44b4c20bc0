"""REST: ingestion, batches, feeds and items, with their permissions."""

import json

import pytest

from feeds.models import Feed, FeedItem, IngestBatch
from feeds.tasks import ingest_batch
from tests.feeds.conftest import make_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    """Batch ids handed to the task queue (instead of a broker)."""
    sent = []
    monkeypatch.setattr(ingest_batch, "delay", lambda batch_id: sent.append(batch_id))
    return sent


def post_events(client, events, capture):
    with capture(execute=True):
        return client.post("/api/events/", {"events": events}, format="json")


# --- POST /api/events/ ----------------------------------------------------------------------
def test_accepted_events_are_stored_and_queued_then_the_batch_reports_its_counts(
        feed, ingester, api_as, queued, django_capture_on_commit_callbacks):
    client = api_as(ingester)
    events = [make_event(id="a"), make_event(id="b")]
    response = post_events(client, events, django_capture_on_commit_callbacks)
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 2 and queued == [body["batch"]]
    batch = IngestBatch.objects.get(pk=body["batch"])
    assert (batch.source, batch.status, len(json.loads(batch.payload))) == (ingester, "queued", 2)

    status = client.get(f"/api/events/batches/{batch.pk}/").json()
    assert status["status"] == "queued"
    ingest_batch(batch.pk)
    status = client.get(f"/api/events/batches/{batch.pk}/").json()
    assert status["status"] == "done" and status["finished_at"]
    assert status["counts"] == {"received": 2, "created": 2, "updated": 0, "unchanged": 0, "rejected": 0}
    assert status["errors"] == [] and status["attempts"] == 1


def test_a_bad_batch_is_a_400_naming_each_bad_event_and_field_and_nothing_is_queued(
        feed, ingester, api_as, queued, django_capture_on_commit_callbacks):
    events = [make_event(), make_event(version="2", occurred_at="soon"), make_event(feed="nope"),
              make_event(url="ftp://x")]
    response = post_events(api_as(ingester), events, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and error["field"] == "events.1.occurred_at"
    # The batch's list sits in `data`, so the body has the one error shape of every endpoint.
    assert set(error) == {"code", "message", "field", "data"}
    assert [(e["index"], e["field"]) for e in error["data"]["errors"]] == [
        (1, "occurred_at"), (1, "version"), (2, "feed"), (3, "url")]
    assert error["data"]["error_count"] == 4
    assert "no feed 'nope'" in error["data"]["errors"][2]["message"]
    assert IngestBatch.objects.count() == 0 and queued == []


@pytest.mark.parametrize("body", [{}, {"events": "x"}, {"events": []}, [1, 2]])
def test_a_malformed_body_is_a_400(feed, ingester, api_as, body):
    response = api_as(ingester).post("/api/events/", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_too_many_events_or_bytes_are_refused(feed, ingester, api_as, settings):
    settings.FEEDS_MAX_BATCH_EVENTS = 2
    response = api_as(ingester).post("/api/events/", {"events": [make_event()] * 3}, format="json")
    assert response.status_code == 400 and "At most 2 events" in response.json()["error"]["message"]
    settings.FEEDS_MAX_BATCH_EVENTS = 5000
    settings.FEEDS_MAX_BATCH_BYTES = 100
    response = api_as(ingester).post("/api/events/", {"events": [make_event()]}, format="json")
    assert response.status_code == 413 and "larger than 100 bytes" in response.json()["error"]["message"]
    assert response.json()["error"]["code"] == "too_large"


def test_ingestion_needs_the_permission(feed, api, api_as, user, staff):
    assert api.post("/api/events/", {"events": [make_event()]}, format="json").status_code == 401
    for who in (user, staff):
        response = api_as(who).post("/api/events/", {"events": [make_event()]}, format="json")
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"


def test_a_batch_is_visible_to_its_sender_and_staff_only(feed, ingester, user, staff, api_as):
    from feeds import services

    batch = services.queue_events(source=ingester, events=[make_event()])
    url = f"/api/events/batches/{batch.pk}/"
    assert api_as(ingester).get(url).status_code == 200
    assert api_as(staff).get(url).status_code == 200
    assert api_as(user).get(url).status_code == 404
    assert api_as(staff).get("/api/events/batches/999999/").status_code == 404


# --- feeds ----------------------------------------------------------------------------------
def test_feed_list_shows_private_feeds_only_to_those_who_may_read_them(feed, private_feed, api, api_as,
                                                                          user, staff):
    def slugs(client):
        response = client.get("/api/feeds/")
        assert response.status_code == 200
        return [f["slug"] for f in response.json()["results"]]

    assert slugs(api) == ["news"]
    assert slugs(api_as(user)) == ["news"]
    assert slugs(api_as(staff)) == ["news", "ops"]
    from django.contrib.auth.models import Permission

    user.user_permissions.add(Permission.objects.get(codename="view_private_feed"))
    reader = type(user).objects.get(pk=user.pk)
    assert slugs(api_as(reader)) == ["news", "ops"]
    assert api.get("/api/feeds/ops/").status_code == 404
    assert api.get("/api/feeds/news/").json()["topic"] == "feed:news"


def test_staff_create_and_update_feeds(api_as, staff, user):
    body = {"slug": "alerts", "title": "Alerts", "is_public": False}
    assert api_as(user).post("/api/feeds/", body, format="json").status_code == 403
    response = api_as(staff).post("/api/feeds/", body, format="json")
    assert response.status_code == 201
    assert response.json()["slug"] == "alerts" and response.json()["is_public"] is False
    assert api_as(staff).post("/api/feeds/", body, format="json").status_code == 409
    response = api_as(staff).post("/api/feeds/", {"slug": "Bad!", "title": "x"}, format="json")
    assert response.status_code == 400 and response.json()["error"]["field"] == "slug"
    assert api_as(user).patch("/api/feeds/alerts/", {"title": "X"}, format="json").status_code == 403
    response = api_as(staff).patch("/api/feeds/alerts/", {"title": "Alerts!", "is_public": True},
                                   format="json")
    assert response.status_code == 200 and response.json()["title"] == "Alerts!"
    assert Feed.objects.get(slug="alerts").is_public is True


# --- items ----------------------------------------------------------------------------------
def _items(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.content
    return response.json()


def test_items_are_cursor_paginated_newest_first_and_filter_by_kind(feed, api, ingester, api_as):
    client = api_as(ingester)
    for n in range(5):
        client.post("/api/feeds/news/items/", make_event(id=f"i{n}", kind="a" if n % 2 else "b",
                    occurred_at=f"2025-01-0{n + 1}T00:00:00Z"), format="json")
    page = _items(api, "/api/feeds/news/items/?page_size=2")
    assert [i["external_id"] for i in page["results"]] == ["i4", "i3"]
    page = _items(api, page["next"])
    assert [i["external_id"] for i in page["results"]] == ["i2", "i1"]
    page = _items(api, "/api/feeds/news/items/?kind=a")
    assert [i["external_id"] for i in page["results"]] == ["i3", "i1"]
    assert page["results"][0]["feed"] == "news"


def test_updated_after_lists_changes_oldest_first_with_tombstones(feed, api, ingester, api_as):
    client = api_as(ingester)
    client.post("/api/feeds/news/items/", make_event(id="old"), format="json")
    since = FeedItem.objects.get(external_id="old").updated_at.isoformat()
    client.post("/api/feeds/news/items/", make_event(id="new"), format="json")
    client.post("/api/feeds/news/items/", make_event(id="old", version=2, deleted=True), format="json")
    assert [i["external_id"] for i in _items(api, "/api/feeds/news/items/")["results"]] == ["new"]
    page = _items(api, f"/api/feeds/news/items/?updated_after={since}")
    assert [(i["external_id"], i["deleted"]) for i in page["results"]] == [("new", False), ("old", True)]
    for bad in ("yesterday", "2025-01-01T00:00:00"):
        response = api.get(f"/api/feeds/news/items/?updated_after={bad}")
        assert response.status_code == 400 and response.json()["error"]["field"] == "updated_after"


def test_private_feed_items_are_hidden_from_those_who_may_not_read(private_feed, api, api_as, user, staff):
    assert api.get("/api/feeds/ops/items/").status_code == 404
    assert api_as(user).get("/api/feeds/ops/items/").status_code == 404
    assert api_as(staff).get("/api/feeds/ops/items/").status_code == 200


def test_posting_an_item_needs_the_permission_and_reports_the_outcome(feed, api_as, user, ingester):
    event = make_event(id="p")
    del event["feed"]
    assert api_as(user).post("/api/feeds/news/items/", event, format="json").status_code == 403
    client = api_as(ingester)
    response = client.post("/api/feeds/news/items/", event, format="json")
    assert response.status_code == 201 and response.json()["result"] == "created"
    assert response.json()["item"]["external_id"] == "p"
    response = client.post("/api/feeds/news/items/", event, format="json")
    assert (response.status_code, response.json()["result"]) == (200, "unchanged")
    response = client.post("/api/feeds/news/items/", {**event, "version": 2}, format="json")
    assert (response.status_code, response.json()["result"]) == (200, "updated")
    response = client.post("/api/feeds/news/items/", {**event, "version": "x"}, format="json")
    assert response.status_code == 400 and response.json()["error"]["field"] == "version"
    assert client.post("/api/feeds/nope/items/", event, format="json").status_code == 404


def test_the_openapi_schema_documents_the_feeds_endpoints(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    for path in ("/api/events/", "/api/events/batches/{id}/", "/api/feeds/", "/api/feeds/{slug}/",
                 "/api/feeds/{slug}/items/"):
        assert path in paths, path
    assert "requestBody" in paths["/api/events/"]["post"]
    assert "202" in paths["/api/events/"]["post"]["responses"]
