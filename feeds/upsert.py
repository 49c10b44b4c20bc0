"""The upsert engine: applies clean change events to FeedItems and publishes the changes,
in the caller's transaction.  Called by feeds.services only (batches, REST, admin).

Ordering rule: an event replaces the stored item when its (version, occurred_at) is
greater; an older or identical one is `unchanged` and not published, so replaying
events is harmless.  Writers of a feed are serialised by locking its Feed row first
(PostgreSQL row lock; SQLite's IMMEDIATE transactions hold the database write lock), so
two batches touching one item cannot both read its old version.

Per feed and call: one query reads the stored (version, occurred_at) of the items named,
the rules pick each item's newest event in Python, and one statement writes them (on
PostgreSQL an INSERT ... ON CONFLICT fed one JSON array; elsewhere bulk create/update).
The published items are made from the events themselves, no model instances.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

import orjson
from django.db import connection, transaction
from django.utils import timezone

from feeds import limits
from feeds.models import Feed, FeedItem
from feeds.serialize import serialize_tombstone
from realtime import bound_cursor, find_events, publish_many, rewrite_events

CONTENT_FIELDS = ("kind", "title", "body", "url", "data", "deleted")
# What a deleted item's content becomes.
ERASED = {"kind": "", "title": "", "body": "", "url": "", "data": {}}
UPDATE_FIELDS = (*CONTENT_FIELDS, "occurred_at", "version", "updated_at")

# One statement writes a feed's changed items: the events arrive as one JSON array.
# created_at is only set by the INSERT; an update leaves it.
_PG_UPSERT = """
INSERT INTO feeds_feeditem AS i (feed_id, external_id, kind, title, body, url, data,
                                 occurred_at, version, deleted, created_at, updated_at)
SELECT %s::bigint, e.id, e.kind, e.title, e.body, e.url, e.data, e.occurred_at, e.version,
       e.deleted, %s::timestamptz, %s::timestamptz
FROM jsonb_to_recordset(%s::jsonb) AS e(id text, kind text, title text, body text, url text,
                                        data jsonb, occurred_at timestamptz, version bigint,
                                        deleted boolean)
ON CONFLICT (feed_id, external_id) DO UPDATE SET
    kind = excluded.kind, title = excluded.title, body = excluded.body, url = excluded.url,
    data = excluded.data, occurred_at = excluded.occurred_at, version = excluded.version,
    deleted = excluded.deleted, updated_at = excluded.updated_at
RETURNING i.external_id, i.id
"""


@dataclass
class Result:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list = field(default_factory=list)
    # index of the event -> "created" / "updated" / "unchanged"
    outcomes: dict = field(default_factory=dict)

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
    """Applies one feed's events; returns the changed items (serialised, as published) in
    the order of their last change."""
    stored = {ext: (pk, (version, occurred)) for ext, pk, version, occurred in
              _stored_versions(feed, list({event["id"] for _, event in events}))}
    newest = {}  # external id -> ((version, occurred_at), event): the winner so far
    for index, event in events:
        ext = event["id"]
        key = (event["version"], datetime.datetime.fromisoformat(event["occurred_at"]))
        if ext in newest:
            current = newest[ext][0]
        else:
            current = stored[ext][1] if ext in stored else None
        if current is None:
            outcome = "created"
        elif key > current:
            outcome = "updated"
        else:
            result.unchanged += 1
            result.outcomes[index] = "unchanged"
            continue
        setattr(result, outcome, getattr(result, outcome) + 1)
        result.outcomes[index] = outcome
        newest.pop(ext, None)  # re-insert: the order is that of the last change
        newest[ext] = (key, event)
    if not newest:
        return []
    now = timezone.now()
    # A deleted item keeps no content, in the table as in any event (ordering needs only
    # its version and occurred_at).
    winners = [{**event, **ERASED} if event["deleted"] else event for _, event in newest.values()]
    if connection.vendor == "postgresql":
        ids = _write_postgresql(feed, winners, now)
    else:
        ids = _write_orm(feed, winners, stored, now)
    _redact_stored_events(feed, [event["id"] for event in winners if event["deleted"]])
    updated_at = now.isoformat()
    return [serialize_tombstone(ids[event["id"]], event["id"], event["version"]) if event["deleted"]
            else {"id": ids[event["id"]], "external_id": event["id"], "feed": feed.slug,
                  **{name: event[name] for name in ("kind", "title", "body", "url", "data")},
                  "occurred_at": event["occurred_at"], "version": event["version"],
                  "deleted": False, "updated_at": updated_at} for event in winners]


def _redact_stored_events(feed, deleted):
    """Called in the transaction that deletes items (external ids `deleted`), before their
    tombstones are published: the feed's stored feed.item / feed.items events (the outbox,
    which resume and gap fills replay) carry the tombstone in place of each such item, so
    a replay never returns a deleted item's content.  Seqs and event names stay."""
    if not deleted:
        return
    gone = set(deleted)

    def redact(item):  # the version it had then: replayed versions still only grow
        if item["external_id"] in gone:
            return serialize_tombstone(item["id"], item["external_id"], item["version"])
        return item

    changes = {}
    for seq, _, data in find_events(feed.topic, ("feed.item",), deleted, path=("item", "external_id")):
        changes[seq] = {"item": redact(data["item"])}
    for seq, _, data in find_events(feed.topic, ("feed.items",), deleted, path=("external_id",),
                                    within="items"):
        changes[seq] = {"items": [redact(item) for item in data["items"]]}
    rewrite_events(feed.topic, changes)


def _stored_versions(feed, external_ids):
    """[(external_id, id, version, occurred_at)] of the feed's stored items among these."""
    if connection.vendor != "postgresql":
        return FeedItem.objects.filter(feed=feed, external_id__in=external_ids) \
            .values_list("external_id", "id", "version", "occurred_at")
    with bound_cursor() as cursor:  # the ids as one array parameter, not 500 literals
        cursor.execute("SELECT external_id, id, version, occurred_at FROM feeds_feeditem "
                       "WHERE feed_id = %s::bigint AND external_id = ANY(%s::text[])",
                       [feed.pk, external_ids])
        return cursor.fetchall()


def _write_postgresql(feed, events, now):
    with bound_cursor() as cursor:
        cursor.execute(_PG_UPSERT, [feed.pk, now, now, orjson.dumps(events).decode()])
        return dict(cursor.fetchall())


def _write_orm(feed, events, stored, now):
    new, dirty = [], []
    for event in events:
        item = FeedItem(feed=feed, external_id=event["id"], created_at=now, updated_at=now,
                        occurred_at=datetime.datetime.fromisoformat(event["occurred_at"]),
                        version=event["version"], **{name: event[name] for name in CONTENT_FIELDS})
        if event["id"] in stored:
            item.pk = stored[event["id"]][0]
            dirty.append(item)
        else:
            new.append(item)
    if new:
        FeedItem.objects.bulk_create(new, batch_size=500)
    if dirty:
        FeedItem.objects.bulk_update(dirty, UPDATE_FIELDS, batch_size=500)
    return {item.external_id: item.pk for item in (*new, *dirty)}


def feed_events(feed, items):
    """[(topic, event, data)] announcing changed items (serialised) of one feed: `feed.item`
    for a single item, else `feed.items` in chunks of FEED_ITEMS_PER_EVENT items /
    ~FEED_ITEMS_EVENT_BYTES."""
    if not items:
        return []
    if len(items) == 1:
        return [(feed.topic, "feed.item", {"item": items[0]})]
    chunks, chunk, size = [], [], 0
    for data in items:
        length = len(orjson.dumps(data))
        if chunk and (len(chunk) >= limits.FEED_ITEMS_PER_EVENT
                      or size + length > limits.FEED_ITEMS_EVENT_BYTES):
            chunks.append(chunk)
            chunk, size = [], 0
        chunk.append(data)
        size += length
    chunks.append(chunk)
    return [(feed.topic, "feed.items", {"items": chunk}) for chunk in chunks]
