"""Where webhook events come in: publish() (socket events, in its own transaction) and
emit()/apresence() (facts that are not socket events).  With no enabled endpoint wanting an
event this costs a set lookup and, every WEBHOOKS_ENDPOINT_CACHE_SECONDS, one query.

Models are imported lazily: realtime.publish imports this module at start-up.
"""

import fnmatch
import logging
import threading
import time

from django.db import transaction
from django.utils import timezone

from realtime.webhooks import conf

logger = logging.getLogger("realtime.webhooks")

# Socket events publish() hands over (models.PUBLISHED_EVENTS, repeated here so this
# module needs no model import).
PUBLISHED = frozenset({"chat.message", "chat.edited", "chat.deleted", "board.cleared"})
OCCUPANCY = frozenset({"room.occupied", "room.vacated"})
PRESENCE = {"presence.join": "presence.joined", "presence.leave": "presence.left"}

_cache = {"at": float("-inf"), "endpoints": (), "types": frozenset()}
_lock = threading.Lock()


def invalidate(**_):
    """Drops this process's endpoint list (an endpoint was saved or deleted here)."""
    _cache["at"] = float("-inf")


def _fresh():
    return time.monotonic() - _cache["at"] < conf.get("WEBHOOKS_ENDPOINT_CACHE_SECONDS")


def endpoints():
    """The enabled endpoints as (id, events, topic filter), cached per process (ORM)."""
    if not _fresh():
        from realtime.webhooks.models import WebhookEndpoint

        with _lock:
            if not _fresh():
                rows = tuple((pk, frozenset(events or ()), topic_filter) for pk, events, topic_filter
                             in WebhookEndpoint.objects.filter(enabled=True)
                             .values_list("id", "events", "topic_filter"))
                _cache.update(endpoints=rows, types=frozenset().union(*(r[1] for r in rows)),
                              at=time.monotonic())
    return _cache["endpoints"]


def _matching(event_type, topic):
    return [pk for pk, events, pattern in endpoints()
            if event_type in events and (not pattern or not topic or fnmatch.fnmatchcase(topic, pattern))]


def wanted(events):
    """Whether publish_many() must hand [(topic, event, data), ...] over (then it writes
    them in a transaction of its own).  No query unless one of them is an event webhooks
    carry and the endpoint list is stale."""
    if not any(event in PUBLISHED for _, event, _ in events):
        return False
    endpoints()
    return bool(_cache["types"] & PUBLISHED)


def published(events, now):
    """Called by publish_many() inside its transaction, after the outbox rows (so the
    deliveries commit or roll back with the events, in the topic's commit order): queues
    deliveries of the events for the endpoints that want them."""
    enqueue([(event, topic, data) for topic, event, data in events if event in PUBLISHED], now)


def enqueue(items, now=None):
    """Writes a WebhookEvent per wanted (type, topic, data) and a Delivery per endpoint
    wanting it, in the current transaction (or its own), and starts those queues once it
    commits.  Returns the number of deliveries queued."""
    from realtime.webhooks.models import Delivery, WebhookEvent

    now = now or timezone.now()
    events, deliveries = [], []
    for event_type, topic, data in items:
        wanted = _matching(event_type, topic)
        if not wanted:
            continue
        event = WebhookEvent(type=event_type, topic=topic or "", data=data, created_at=now)
        events.append(event)
        deliveries += [Delivery(endpoint_id=pk, event=event, topic=event.topic, created_at=now,
                                next_attempt_at=now) for pk in wanted]
    if not deliveries:
        return 0
    with transaction.atomic():
        WebhookEvent.objects.bulk_create(events)
        Delivery.objects.bulk_create(deliveries)
        pairs = sorted({(d.endpoint_id, d.topic) for d in deliveries})
        transaction.on_commit(lambda: kick_many(pairs), robust=True)
    return len(deliveries)


def kick_many(pairs, countdown=None):
    """Starts a delivery task per (endpoint id, topic); a broker failure is logged (the
    periodic sweep starts the queue later)."""
    from realtime.webhooks.tasks import deliver

    for endpoint_id, topic in pairs:
        try:
            deliver.apply_async((endpoint_id, topic), countdown=countdown)
        except Exception as exc:
            logger.warning("could not queue webhook delivery %s/%s (the sweep will): %s",
                           endpoint_id, topic, exc)


def emit(event_type, topic, data):
    """Announces a fact that is not a socket event (feed.batch.done, ...) to the endpoints
    wanting it, in the caller's transaction.  Call from sync code where the fact happens."""
    if _fresh() and event_type not in _cache["types"]:
        return 0
    return enqueue([(event_type, topic, data)])


async def apresence(topic, event, users):
    """Called by the presence announcer (on the event loop) after it sent a presence.join
    or presence.leave of `users`: queues presence.joined/left and, on rooms, a debounced
    occupancy check.  Never raises; crosses to a worker thread only when wanted."""
    kind = PRESENCE.get(event)
    relevant = {kind} | (OCCUPANCY if topic.startswith("room:") else set())
    if kind is None or (_fresh() and not _cache["types"] & relevant):
        return
    from realtime.store import run_sync

    try:
        await run_sync(_presence, topic, kind, users)
    except Exception:
        logger.exception("could not queue webhooks for %s on %s", event, topic)


def _presence(topic, kind, users):
    emit(kind, topic, {"users": users})
    if topic.startswith("room:") and _cache["types"] & OCCUPANCY:
        from realtime.webhooks.tasks import check_occupancy

        check_occupancy.apply_async((topic,), countdown=conf.get("WEBHOOKS_OCCUPANCY_DEBOUNCE"))


def connect():
    """Called by RealtimeConfig.ready(): a saved or deleted endpoint drops this process's
    endpoint list (other processes see it within WEBHOOKS_ENDPOINT_CACHE_SECONDS)."""
    from django.db.models.signals import post_delete, post_save

    from realtime.webhooks import tasks  # noqa: F401  (registers the Celery tasks)
    from realtime.webhooks.models import WebhookEndpoint

    def changed(**_):
        invalidate()
        transaction.on_commit(invalidate)  # and again once others can read the change

    post_save.connect(changed, sender=WebhookEndpoint, dispatch_uid="webhooks-cache-save", weak=False)
    post_delete.connect(changed, sender=WebhookEndpoint, dispatch_uid="webhooks-cache-delete", weak=False)
