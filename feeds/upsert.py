"""The upsert engine: applies clean change events to FeedItems and publishes the changes,
in the caller's transaction.  Called by feeds.services only (batches, REST, admin).

Ordering rule: an event replaces the stored item when its (version, occurred_at) is
greater; an older or identical one is `unchanged` and not published, so replaying
events is harmless.  Writers of a feed are serialised by locking its Feed row first
(PostgreSQL row lock; SQLite's IMMEDIATE transactions hold the database write lock), so
two batches touching one item cannot both read its old version.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

import orjson
from django.db import transaction
from django.utils import timezone

from feeds import limits
from feeds.models import Feed, FeedItem
from feeds.serialize import serialize_item
from realtime.publish import publish_many

CONTENT_FIELDS = ("kind", "title", "body", "url", "data", "deleted")
UPDATE_FIELDS = (*CONTENT_FIELDS, "occurred_at", "version", "updated_at")


@dataclass
class Result:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list = field(default_factory=list)
    # index of the event -> "created" / "updated" / "unchanged"
    outcomes: dict = field(default_factory=dict)
    # external key (feed id, external_id) -> the stored item after the events
    items: dict = field(default_factory=dict)

    def reject(self, index, field_name, message):
        self.rejected += 1
        self.errors.append({"index": index, "field": field_name, "message": message})


def apply_events(indexed_events):
    """Applies [(index, clean event), ...] in the current transaction (the caller's
    `transaction.atomic()`); publishes feed.item / feed.items for what changed.  Events
    naming a feed that no longer exists are rejected, the rest still applied."""
    assert transaction.get_connection().in_atomic_block, "apply_events needs a transaction"
    result = Result()
    slugs = {event["feed"] for _, event in indexed_events}
    # Lock in id order: two writers of the same feeds cannot deadlock.
    feeds = {f.slug: f for f in Feed.objects.select_for_update().filter(slug__in=slugs).order_by("id")}
    by_feed = defaultdict(list)
    for index, event in indexed_events:
        feed = feeds.get(event["feed"])
        if feed is None:
            result.reject(index, "feed", f"no feed {event['feed']!r}")
        else:
            by_feed[feed].append((index, event))
    published = []
    for feed, events in by_feed.items():
        changed = _apply_to_feed(feed, events, result)
        published.extend(feed_events(feed, changed))
    if published:
        publish_many(published)
    return result


def _apply_to_feed(feed, events, result):
    now = timezone.now()
    external_ids = {event["id"] for _, event in events}
    current = {item.external_id: item
               for item in FeedItem.objects.filter(feed=feed, external_id__in=external_ids)}
    new, dirty, changed = {}, {}, {}
    for index, event in events:
        ext = event["id"]
        occurred = datetime.datetime.fromisoformat(event["occurred_at"])
        item = current.get(ext)
        if item is None:
            item = FeedItem(feed=feed, external_id=ext, created_at=now)
            current[ext] = new[ext] = item
            outcome = "created"
        elif (event["version"], occurred) > (item.version, item.occurred_at):
            outcome = "updated"
            if ext not in new:
                dirty[ext] = item
        else:
            result.unchanged += 1
            result.outcomes[index] = "unchanged"
            result.items[(feed.pk, ext)] = item
            continue
        for name in CONTENT_FIELDS:
            setattr(item, name, event[name])
        item.occurred_at, item.version, item.updated_at = occurred, event["version"], now
        setattr(result, outcome, getattr(result, outcome) + 1)
        result.outcomes[index] = outcome
        result.items[(feed.pk, ext)] = item
        changed.pop(ext, None)  # re-insert: the order is that of the last change
        changed[ext] = item
    if new:
        FeedItem.objects.bulk_create(list(new.values()), batch_size=500)
    if dirty:
        FeedItem.objects.bulk_update(list(dirty.values()), UPDATE_FIELDS, batch_size=500)
    return list(changed.values())


def feed_events(feed, items):
    """[(topic, event, data)] announcing changed items of one feed: `feed.item` for a single
    item, else `feed.items` in chunks of FEED_ITEMS_PER_EVENT items / ~FEED_ITEMS_EVENT_BYTES."""
    if not items:
        return []
    if len(items) == 1:
        return [(feed.topic, "feed.item", {"item": serialize_item(items[0])})]
    chunks, chunk, size = [], [], 0
    for item in items:
        data = serialize_item(item)
        length = len(orjson.dumps(data))
        if chunk and (len(chunk) >= limits.FEED_ITEMS_PER_EVENT
                      or size + length > limits.FEED_ITEMS_EVENT_BYTES):
            chunks.append(chunk)
            chunk, size = [], 0
        chunk.append(data)
        size += length
    chunks.append(chunk)
    return [(feed.topic, "feed.items", {"items": chunk}) for chunk in chunks]
