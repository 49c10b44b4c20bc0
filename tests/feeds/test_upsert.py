"""feeds.upsert: the published items are the stored ones, in a bounded number of queries."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from feeds.models import FeedItem
from feeds.serialize import serialize_item
from feeds.upsert import apply_events
from feeds.validation import validate_event
from realtime.models import Event
from tests.feeds.conftest import make_event

pytestmark = pytest.mark.django_db


def clean(**fields):
    event, problems = validate_event(make_event(**fields))
    assert not problems
    return event


def published_items():
    items = []
    for event, data in Event.objects.order_by("seq").values_list("event", "data"):
        items += data["items"] if event == "feed.items" else [data["item"]]
    return items


def test_published_items_are_exactly_the_stored_items(feed):
    with transaction.atomic():
        apply_events([(0, clean(id="old", version=1))])
    Event.objects.all().delete()
    events = [clean(id="old", version=2, title="new title", occurred_at="2025-02-01T10:00:00.123456+02:00",
                    data={"z": 1, "a": [1, {"b": None}]}, deleted=True),
              clean(id="new", version=0, url="", kind="", body="é\n\"x\"")]
    with transaction.atomic():
        result = apply_events(list(enumerate(events)))
    assert (result.created, result.updated, result.outcomes) == (1, 1, {0: "updated", 1: "created"})
    stored = {item.external_id: serialize_item(item) for item in FeedItem.objects.select_related("feed")}
    assert published_items() == [stored["old"], stored["new"]]
    assert set(stored["old"]) == {"id", "external_id", "version", "deleted"}  # a bare tombstone
    old = FeedItem.objects.get(external_id="old")
    assert old.occurred_at.isoformat() == "2025-02-01T08:00:00.123456+00:00"
    assert old.created_at < old.updated_at  # an update keeps created_at


def test_a_chunk_of_500_events_is_a_handful_of_queries(feed):
    events = [(n, clean(id=f"e{n}", version=1)) for n in range(500)]
    events += [(500 + n, clean(id=f"e{n}", version=2)) for n in range(0, 500, 2)]  # half updated again
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        result = apply_events(events)
    assert (result.created, result.updated, result.unchanged) == (500, 250, 0)
    # BEGIN/COMMIT, the feed lock, the stored versions, the item write, the outbox; SQLite's
    # bulk statements are split by its limit on query parameters.
    assert len(queries) <= (6 if connection.vendor == "postgresql" else 20)
    assert FeedItem.objects.filter(version=2).count() == 250
    assert [i["external_id"] for i in published_items()][-2:] == ["e496", "e498"]


def test_a_stored_batch_payload_reads_back_as_the_clean_events(feed):
    from feeds import services
    from feeds.models import IngestBatch

    events = [make_event(id="a", data={"k": [1, "é"]}), make_event(id="b")]
    batch = services.queue_events(source=None, events=events)
    assert IngestBatch.objects.get(pk=batch.pk).payload == batch.payload
    assert services._payload(batch.pk) == [validate_event(e)[0] for e in events]
