"""Upsert semantics, idempotency and what is published (the outbox rows of feed:<slug>)."""

import json

import pytest

from feeds import limits, selectors, services
from feeds.models import Feed, FeedItem, IngestBatch
from feeds.tasks import ingest_batch
from realtime.errors import Conflict, Invalid
from realtime.models import Event
from tests.feeds.conftest import make_event

pytestmark = pytest.mark.django_db


def run(events, source=None):
    """Queues and applies a batch (the task body, in this process); returns it reloaded."""
    batch = services.queue_events(source=source, events=events)
    assert ingest_batch(batch.pk) == IngestBatch.DONE
    return IngestBatch.objects.get(pk=batch.pk)


def outbox(topic="feed:news"):
    return list(Event.objects.filter(topic=topic).order_by("seq").values_list("event", "data"))


def counts(batch):
    return batch.created, batch.updated, batch.unchanged, batch.rejected


def item(external_id):
    return FeedItem.objects.get(external_id=external_id)


def test_new_events_create_items_and_publish_one_feed_items_event(feed):
    batch = run([make_event(id="a"), make_event(id="b", title="B")])
    assert (batch.status, batch.received, counts(batch)) == ("done", 2, (2, 0, 0, 0))
    assert batch.finished_at is not None and batch.next_index == 2
    [(name, data)] = outbox()
    assert name == "feed.items"
    assert [i["external_id"] for i in data["items"]] == ["a", "b"]
    stored = item("b")
    assert data["items"][1] == {
        "id": stored.pk, "external_id": "b", "feed": "news", "kind": "article", "title": "B", "body": "Body",
        "url": "https://example.com/a", "data": {"n": 1}, "occurred_at": "2025-01-31T12:00:00+00:00",
        "version": 1, "deleted": False, "updated_at": stored.updated_at.isoformat()}


def test_a_single_change_is_published_as_feed_item(feed):
    run([make_event(id="a")])
    [(name, data)] = outbox()
    assert name == "feed.item" and data["item"]["external_id"] == "a"


def test_higher_version_wins_and_older_or_identical_is_unchanged_and_not_published(feed):
    run([make_event(id="a", version=2, title="v2")])
    batch = run([make_event(id="a", version=3, title="v3")])
    assert counts(batch) == (0, 1, 0, 0)
    assert (item("a").version, item("a").title) == (3, "v3")
    before = len(outbox())
    batch = run([make_event(id="a", version=2, title="older"),
                 make_event(id="a", version=3, title="identical version and time")])
    assert counts(batch) == (0, 0, 2, 0)
    assert item("a").title == "v3"
    assert len(outbox()) == before


def test_equal_version_with_a_later_occurred_at_wins(feed):
    run([make_event(id="a", version=1, occurred_at="2025-01-31T12:00:00Z", title="first")])
    batch = run([make_event(id="a", version=1, occurred_at="2025-01-31T12:00:01Z", title="later")])
    assert counts(batch) == (0, 1, 0, 0)
    batch = run([make_event(id="a", version=1, occurred_at="2025-01-31T11:00:00Z", title="earlier")])
    assert counts(batch) == (0, 0, 1, 0)
    assert item("a").title == "later"
    assert outbox()[-1][1]["item"]["title"] == "later"


def test_replaying_a_batch_changes_nothing_and_publishes_nothing(feed):
    events = [make_event(id=f"e{n}", version=n) for n in range(5)]
    run(events)
    published = len(outbox())
    again = run(events)
    assert counts(again) == (0, 0, 5, 0)
    assert len(outbox()) == published
    assert FeedItem.objects.count() == 5


def test_running_the_same_batch_twice_applies_it_once(feed):
    batch = services.queue_events(source=None, events=[make_event(id="a")])
    assert ingest_batch(batch.pk) == "done"
    assert ingest_batch(batch.pk) == "done"
    batch.refresh_from_db()
    assert (counts(batch), batch.attempts) == ((1, 0, 0, 0), 1)
    assert len(outbox()) == 1


def test_later_events_of_one_batch_win_over_earlier_ones_for_the_same_item(feed):
    batch = run([make_event(id="a", version=1, title="one"), make_event(id="a", version=2, title="two"),
                 make_event(id="a", version=1, title="stale")])
    assert counts(batch) == (1, 1, 1, 0)
    [(name, data)] = outbox()
    assert (name, data["item"]["title"], data["item"]["version"]) == ("feed.item", "two", 2)


def test_a_deleted_event_keeps_a_tombstone_that_is_published(feed):
    run([make_event(id="a", version=1)])
    run([make_event(id="a", version=2, deleted=True)])
    assert item("a").deleted is True
    assert outbox()[-1][1]["item"]["deleted"] is True


def test_a_resumed_batch_continues_after_the_last_committed_chunk(feed, settings):
    settings.FEEDS_INGEST_CHUNK = 2
    batch = services.queue_events(source=None, events=[make_event(id=f"e{n}") for n in range(5)])
    # A worker died after committing the first chunk (progress is stored with it).
    FeedItem.objects.all().delete()
    IngestBatch.objects.filter(pk=batch.pk).update(status="running", next_index=2, created=2)
    assert ingest_batch(batch.pk) == "done"
    batch.refresh_from_db()
    assert (counts(batch), batch.next_index) == ((5, 0, 0, 0), 5)
    assert sorted(FeedItem.objects.values_list("external_id", flat=True)) == ["e2", "e3", "e4"]


def test_large_batches_are_published_in_bounded_feed_items_events(feed, settings):
    settings.FEEDS_INGEST_CHUNK = 2000
    run([make_event(id=f"e{n}") for n in range(1201)])
    sizes = [len(data["items"]) for name, data in outbox()]
    assert {name for name, _ in outbox()} == {"feed.items"}
    assert sizes == [500, 500, 201]


def test_feed_items_events_are_also_bounded_in_bytes(feed, settings):
    settings.FEEDS_INGEST_CHUNK = 200
    run([make_event(id=f"e{n}", body="x" * 9000) for n in range(100)])
    sizes = [len(data["items"]) for _, data in outbox()]
    assert sum(sizes) == 100 and len(sizes) > 1
    assert all(size * 9000 <= limits.FEED_ITEMS_EVENT_BYTES for size in sizes)


def test_events_of_several_feeds_go_to_each_feed_topic(feed):
    Feed.objects.create(slug="sport", title="Sport")
    run([make_event(id="a"), make_event(id="b", feed="sport"), make_event(id="c", feed="sport")])
    assert [name for name, _ in outbox("feed:news")] == ["feed.item"]
    assert [name for name, _ in outbox("feed:sport")] == ["feed.items"]


def test_events_whose_feed_vanished_before_the_task_ran_are_rejected(feed):
    other = Feed.objects.create(slug="gone", title="Gone")
    batch = services.queue_events(source=None, events=[make_event(id="a"), make_event(id="b", feed="gone")])
    other.delete()
    ingest_batch(batch.pk)
    batch.refresh_from_db()
    assert (batch.status, counts(batch)) == ("done", (1, 0, 0, 1))
    assert batch.errors == [{"index": 1, "field": "feed", "message": "no feed 'gone'"}]


def test_a_corrupt_stored_event_is_rejected_not_applied(feed):
    batch = services.queue_events(source=None, events=[make_event(id="a"), make_event(id="b")])
    payload = json.loads(batch.payload)
    payload[1]["version"] = "three"
    IngestBatch.objects.filter(pk=batch.pk).update(payload=json.dumps(payload))
    ingest_batch(batch.pk)
    batch.refresh_from_db()
    assert counts(batch) == (1, 0, 0, 1)
    assert batch.errors[0]["index"] == 1 and batch.errors[0]["field"] == "version"


def test_queue_events_validates_everything_before_storing_anything(feed):
    with pytest.raises(Invalid) as info:
        services.queue_events(source=None, events=[make_event(), make_event(version=-1),
                                                   make_event(feed="nope")])
    assert info.value.field == "events.1.version"
    assert [(e["index"], e["field"]) for e in info.value.extra["errors"]] == [(1, "version"), (2, "feed")]
    assert IngestBatch.objects.count() == 0


def test_queue_events_bounds_the_batch_size_and_reported_errors(feed, settings):
    settings.FEEDS_MAX_BATCH_EVENTS = 3
    with pytest.raises(Invalid, match="At most 3 events"):
        services.queue_events(source=None, events=[make_event() for _ in range(4)])
    settings.FEEDS_MAX_BATCH_EVENTS = 1000
    with pytest.raises(Invalid) as info:
        services.queue_events(source=None, events=[make_event(version=-1) for _ in range(500)])
    assert len(info.value.extra["errors"]) == limits.MAX_REPORTED_ERRORS
    assert info.value.extra["error_count"] == 500
    for bad in (None, [], {"a": 1}):
        with pytest.raises(Invalid):
            services.queue_events(source=None, events=bad)


def test_item_upsert_reports_the_outcome(feed):
    outcome, stored = services.item_upsert(feed=feed, data=make_event(id="x", feed="news"))
    assert (outcome, stored.external_id) == ("created", "x")
    outcome, stored = services.item_upsert(feed=feed, data={**make_event(id="x"), "version": 1})
    assert outcome == "unchanged"
    with pytest.raises(Invalid) as info:
        services.item_upsert(feed=feed, data=make_event(id="y", feed="other"))
    assert info.value.field == "feed"


def test_item_edit_goes_one_version_up_and_publishes(feed):
    _, stored = services.item_upsert(feed=feed, data=make_event(id="x", version=4))
    edited = services.item_edit(item=stored, changes={"title": "Edited"})
    assert (edited.version, edited.title) == (5, "Edited")
    deleted = services.item_delete(item=edited)
    assert (deleted.version, deleted.deleted) == (6, True)
    assert [data["item"]["version"] for _, data in outbox()] == [4, 5, 6]


def test_history_pages_back_through_live_items(feed):
    for n in range(5):
        when = f"2025-01-0{n + 1}T00:00:00Z"
        services.item_upsert(feed=feed, data=make_event(id=f"h{n}", occurred_at=when))
    services.item_edit(item=item("h4"), changes={"deleted": True})
    items, more = selectors.get_history(feed=feed, limit=2)
    assert ([i.external_id for i in items], more) == (["h3", "h2"], True)
    items, more = selectors.get_history(feed=feed, before=items[-1].pk, limit=2)
    assert ([i.external_id for i in items], more) == (["h1", "h0"], False)
    for bad in ({"limit": 0}, {"limit": 101}, {"limit": "5"}, {"before": "x"}, {"before": 10**9}):
        with pytest.raises(Invalid):
            selectors.get_history(feed=feed, **bad)


def test_feed_create_and_update(db):
    created = services.feed_create(slug="alerts", title=" Alerts ", is_public=False)
    assert (created.title, created.is_public) == ("Alerts", False)
    with pytest.raises(Conflict):
        services.feed_create(slug="alerts", title="Again")
    for bad in ({"slug": "Bad Slug", "title": "x"}, {"slug": "ok", "title": ""},
                {"slug": "ok", "title": "x", "is_public": "yes"}):
        with pytest.raises(Invalid):
            services.feed_create(**bad)
    updated = services.feed_update(feed=created, description="d", is_public=True)
    assert Feed.objects.get(slug="alerts").is_public is True and updated.description == "d"


def test_seed_demo_creates_the_news_feed_once(db, user):
    from django.apps import apps

    config = apps.get_app_config("feeds")
    config.seed_demo(user)
    config.seed_demo(user)
    assert list(Feed.objects.values_list("slug", "title", "is_public")) == [("news", "News", True)]
