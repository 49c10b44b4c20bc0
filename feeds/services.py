"""Every change to feeds goes through here: REST views, the admin, the management command
and the Celery task parse their input and call these functions, which validate, write in
`transaction.atomic()` and publish (feeds.upsert).  Reads live in feeds.selectors."""

import logging
import re
import time

import orjson
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone

from feeds import limits
from feeds.models import SLUG_RE, Feed, FeedItem, IngestBatch
from feeds.serialize import serialize_batch
from feeds.upsert import apply_events
from feeds.validation import bounded, validate_event, validate_events
from realtime import bound_cursor, emit_webhook, reauthorize, retire_topics
from realtime.errors import Conflict, Invalid, Unavailable

logger = logging.getLogger("feeds")


def _invalid_events(errors):
    first = errors[0]
    field = f"events.{first['index']}" + (f".{first['field']}" if first["field"] else "")
    return Invalid(f"{len({e['index'] for e in errors})} event(s) are invalid; nothing was queued "
                   f"(first: event {first['index']}: {first['message']}).",
                   field=field, errors=bounded(errors), error_count=len(errors))


def check_events(events, *, first_index=0):
    """Clean events, or raises Invalid naming every bad event and field (bounded list in
    `errors`).  Unknown feeds are errors too.  Nothing is written."""
    if not isinstance(events, list):
        raise Invalid("events must be a list of event objects.", field="events")
    if not events:
        raise Invalid("events must not be empty.", field="events")
    # Only look up what could be a slug: a NUL byte or an over-long value would make
    # PostgreSQL raise before validation names the bad field.
    slugs = {e["feed"] for e in events if isinstance(e, dict) and isinstance(e.get("feed"), str)
             and re.match(SLUG_RE, e["feed"])}
    known = set(Feed.objects.filter(slug__in=slugs).values_list("slug", flat=True))
    clean, errors = validate_events(events, known_feeds=known, first_index=first_index)
    if errors:
        raise _invalid_events(errors)
    return clean


def queue_events(*, source, events):
    """Validates a batch (raises Invalid before anything is stored), stores it as an
    IngestBatch and queues feeds.tasks.ingest_batch once it is committed.  Raises
    Unavailable (the batch marked failed, retryable from the admin) when the broker
    cannot take the task."""
    maximum = limits.max_batch_events()
    if isinstance(events, list) and len(events) > maximum:
        raise Invalid(f"At most {maximum} events per batch; split the upload.", field="events")
    clean = check_events(events)
    payload = orjson.dumps(clean).decode()
    with transaction.atomic():
        batch = IngestBatch.objects.create(source=source, received=len(clean))
        _store_payload(batch.pk, payload)
        transaction.on_commit(lambda: _enqueue(batch.pk))
    batch.payload = payload
    return batch


def _store_payload(batch_id, payload):
    """Stores a batch's events (JSON text, made by orjson: much faster than json.dumps for a
    large batch) as a parameter sent apart from the SQL (realtime.sql)."""
    with bound_cursor() as cursor:
        cursor.execute(f"UPDATE {IngestBatch._meta.db_table} SET payload = %s WHERE id = %s",
                       [payload, batch_id])


def _enqueue(batch_id):
    from feeds.tasks import ingest_batch

    try:
        ingest_batch.delay(batch_id)
    except Exception as exc:  # kombu/redis connection errors: the broker is down
        logger.warning("could not queue ingest batch %s: %s", batch_id, exc)
        mark_batch_failed(batch_id, f"could not queue the task: {exc}")
        raise Unavailable("The task queue is unavailable; the batch is kept as failed and can be "
                          "retried.") from exc


def run_batch(batch_id):
    """Applies a stored batch; called by feeds.tasks.ingest_batch.  Idempotent and
    resumable: each chunk's upsert, outbox rows and the batch's progress (`next_index`,
    counts) commit together, so a rerun after a crash continues after the last committed
    chunk, and concurrent runs of one batch take turns on its row lock and never apply a
    chunk twice.  Returns the final status (done batches return at once)."""
    with transaction.atomic():
        batch = _locked(batch_id)
        if batch is None:
            logger.warning("ingest batch %s does not exist", batch_id)
            return None
        if batch.status in (IngestBatch.DONE, IngestBatch.FAILED):
            return batch.status
        batch.status, batch.attempts = IngestBatch.RUNNING, batch.attempts + 1
        batch.started_at = batch.started_at or timezone.now()
        batch.save(update_fields=["status", "attempts", "started_at"])
    payload = _payload(batch_id)
    size, pause = limits.ingest_chunk(), limits.ingest_chunk_pause()
    while True:
        with transaction.atomic():
            batch = _locked(batch_id)
            if batch.status != IngestBatch.RUNNING:
                return batch.status  # finished or failed by another run meanwhile
            start = batch.next_index
            if start >= len(payload):
                batch.status, batch.finished_at = IngestBatch.DONE, timezone.now()
                batch.save(update_fields=["status", "finished_at"])
                emit_webhook("feed.batch.done", None, serialize_batch(batch))
                return batch.status
            _apply_chunk(batch, payload, start, size)
        if pause:
            time.sleep(pause)


def _payload(batch_id):
    """The batch's stored events."""
    return orjson.loads(IngestBatch.objects.values_list("payload", flat=True).get(pk=batch_id))


def _locked(batch_id):
    return IngestBatch.objects.select_for_update().defer("payload").filter(pk=batch_id).first()


def _apply_chunk(batch, payload, start, size):
    chunk = payload[start:start + size]
    indexed, errors = [], []
    for index, raw in enumerate(chunk, start):
        clean, problems = validate_event(raw)  # the stored payload is input too
        if problems:
            errors += [{"index": index, "field": f, "message": m} for f, m in problems]
        else:
            indexed.append((index, clean))
    result = apply_events(indexed) if indexed else None
    rejected = len({e["index"] for e in errors})
    if result is not None:
        batch.created += result.created
        batch.updated += result.updated
        batch.unchanged += result.unchanged
        rejected += result.rejected
        errors += result.errors
    batch.rejected += rejected
    batch.errors = bounded(batch.errors + errors)
    batch.next_index = start + len(chunk)
    batch.save(update_fields=["created", "updated", "unchanged", "rejected", "errors", "next_index"])


def mark_batch_failed(batch_id, message):
    """Records a permanent failure (or exhausted retries); called by the task.  The chunks
    committed so far stay applied; a retry continues from the next one."""
    with transaction.atomic():
        batch = _locked(batch_id)
        if batch is None or batch.status == IngestBatch.DONE:
            return
        batch.status, batch.finished_at = IngestBatch.FAILED, timezone.now()
        batch.errors = bounded(batch.errors + [{"index": None, "field": None, "message": message}])
        batch.save(update_fields=["status", "finished_at", "errors"])
        emit_webhook("feed.batch.failed", None, serialize_batch(batch))


def retry_batch(*, batch):
    """Queues a failed batch again (admin action); returns False for other statuses."""
    with transaction.atomic():
        locked = _locked(batch.pk)
        if locked.status != IngestBatch.FAILED:
            return False
        locked.status, locked.finished_at = IngestBatch.QUEUED, None
        # The old failure is history; per-event rejections of applied chunks stay.
        locked.errors = [e for e in locked.errors if e.get("index") is not None]
        locked.save(update_fields=["status", "finished_at", "errors"])
        transaction.on_commit(lambda: _enqueue(batch.pk))
    return True


# --- single items (REST, admin) --------------------------------------------------------
def item_upsert(*, feed, data):
    """Applies one event to `feed` at once (POST /api/feeds/<slug>/items/); returns
    (outcome "created" / "updated" / "unchanged", the stored item).  Same rules and events
    as a batch."""
    if not isinstance(data, dict):
        raise Invalid("The body must be an event object.", field="body")
    if data.get("feed", feed.slug) != feed.slug:
        raise Invalid("feed must be omitted or match the URL.", field="feed")
    clean, problems = validate_event({**data, "feed": feed.slug})
    if problems:
        field, message = problems[0]
        raise Invalid(message, field=field)
    with transaction.atomic():
        result = apply_events([(0, clean)])
        if result.rejected:  # the feed was deleted meanwhile
            raise Invalid(result.errors[0]["message"], field="feed")
        return result.outcomes[0], _stored(feed.pk, clean["id"])


def item_event(item, **changes):
    """The event that changes a stored item (admin edits): its fields with `changes`, one
    version higher, so it wins over what is stored and later producer versions still win."""
    event = {"id": item.external_id, "feed": item.feed.slug, "kind": item.kind, "title": item.title,
             "body": item.body, "url": item.url, "data": item.data,
             "occurred_at": item.occurred_at.isoformat(), "version": item.version + 1,
             "deleted": item.deleted}
    event.update(changes)
    return event


def item_edit(*, item, changes):
    """Edits a stored item (admin): publishes feed.item.  Raises Invalid for bad fields."""
    clean, problems = validate_event(item_event(item, **changes))
    if problems:
        field, message = problems[0]
        raise Invalid(message, field=field)
    with transaction.atomic():
        apply_events([(0, clean)])
        return _stored(item.feed_id, item.external_id)


def _stored(feed_id, external_id):
    return FeedItem.objects.select_related("feed").get(feed_id=feed_id, external_id=external_id)


def item_delete(*, item):
    """Deletes an item as a tombstone (deleted, one version up) so followers remove it."""
    return item_edit(item=item, changes={"deleted": True})


# --- feeds -------------------------------------------------------------------------------
def feed_create(*, slug, title, description="", is_public=True):
    if not isinstance(slug, str) or not re.match(SLUG_RE, slug):
        raise Invalid("slug must be 1-50 lowercase letters, digits and hyphens.", field="slug")
    _check_feed_fields(title=title, description=description, is_public=is_public)
    with transaction.atomic():
        if Feed.objects.filter(slug=slug).exists():
            raise Conflict(f"A feed {slug!r} exists already.", field="slug")
        return Feed.objects.create(slug=slug, title=title.strip(), description=description,
                                   is_public=is_public)


def feed_update(*, feed, title=None, description=None, is_public=None):
    """Changes a feed's title, description or visibility (the slug is its topic: fixed)."""
    _check_feed_fields(title=title, description=description, is_public=is_public)
    changes = {k: v for k, v in {"title": title, "description": description,
                                 "is_public": is_public}.items() if v is not None}
    if "title" in changes:
        changes["title"] = changes["title"].strip()
    turned_private = changes.get("is_public") is False and feed.is_public
    for name, value in changes.items():
        setattr(feed, name, value)
    if changes:
        with transaction.atomic():
            feed.save(update_fields=list(changes))
            if turned_private:
                # Anonymous and unprivileged readers already subscribed lose the feed.
                transaction.on_commit(lambda: reauthorize(f"feed:{feed.slug}"))
    return feed


def feed_delete(*, feed):
    """Deletes a feed for good (staff: the admin), its items with it; feed_deleted runs
    through the post_delete signal, so a queryset's bulk delete does the same."""
    with transaction.atomic():
        feed.delete()


@receiver(post_delete, sender=Feed)
def feed_deleted(sender, instance, **kwargs):
    """Called by the post_delete signal of every Feed deletion, in its transaction: the
    topic's stored events go and its seq counter moves to a fresh epoch
    (realtime.retire_topics), so a new feed of the same slug replays nothing of this one
    and an old `since` is not recovered; after commit its subscribers are revoked."""
    topic = instance.topic
    retire_topics([topic], timezone.now())
    transaction.on_commit(lambda: reauthorize(topic))


def _check_feed_fields(*, title, description, is_public):
    if title is not None and (not isinstance(title, str) or not 1 <= len(title.strip()) <= 200):
        raise Invalid("title must be 1-200 characters.", field="title")
    if description is not None and (not isinstance(description, str) or len(description) > 2000):
        raise Invalid("description must be at most 2000 characters.", field="description")
    if is_public is not None and not isinstance(is_public, bool):
        raise Invalid("is_public must be true or false.", field="is_public")
    for name, value in (("title", title), ("description", description)):
        if isinstance(value, str) and "\x00" in value:  # PostgreSQL text cannot hold NUL
            raise Invalid(f"{name} must not contain NUL characters.", field=name)

