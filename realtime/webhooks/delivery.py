"""Sending the queues: per (endpoint, topic) the oldest pending delivery first, the next
only once it succeeded or was given up, so a failing event holds back its successors on
that pair only.  Called by the Celery tasks (realtime.webhooks.tasks) and the admin.

At-least-once: a delivery is marked delivered only after a 2xx; a worker killed between
the receiver's answer and that write leaves it pending under a lease that runs out, and
the next worker sends it again with the same event id (receivers de-duplicate on it).
"""

import logging
import random
import uuid
from datetime import timedelta

import orjson
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from project.schema import iso
from realtime.webhooks import conf, hook, sending
from realtime.webhooks.models import Attempt, Delivery, WebhookEndpoint

logger = logging.getLogger("realtime.webhooks")


def payload(event):
    """The body sent for a WebhookEvent: {id, type, created_at, topic, data} (JSON bytes);
    the same bytes on every attempt."""
    return orjson.dumps({"id": str(event.id), "type": event.type, "created_at": iso(event.created_at),
                         "topic": event.topic or None, "data": event.data})


def backoff(attempts):
    """Seconds before the next try after `attempts` failed ones: doubling from
    WEBHOOKS_RETRY_BASE up to WEBHOOKS_RETRY_MAX, with ±10 % jitter so endpoints that
    failed together are not retried in lockstep."""
    delay = min(conf.get("WEBHOOKS_RETRY_BASE") * 2 ** max(attempts - 1, 0), conf.get("WEBHOOKS_RETRY_MAX"))
    return delay * random.uniform(0.9, 1.1)


def run_queue(endpoint_id, topic):
    """Sends the pair's due deliveries in order, up to WEBHOOKS_BATCH, and chains a task
    when more remain.  Idempotent: a pair another worker is sending (its lease) is left
    alone.  Returns the number of deliveries that succeeded."""
    sent = 0
    for _ in range(conf.get("WEBHOOKS_BATCH")):
        claim = _claim(endpoint_id, topic)
        if claim is None:
            return sent
        if not _attempt(*claim):
            return sent
        sent += 1
    hook.kick_many([(endpoint_id, topic)])
    return sent


def _claim(endpoint_id, topic):
    """(delivery, endpoint, lease token) of the pair's head when it is due and free."""
    now = timezone.now()
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id, enabled=True).first()
    if endpoint is None:
        return None
    head = (Delivery.objects.filter(endpoint_id=endpoint_id, topic=topic, status=Delivery.PENDING)
            .select_related("event").order_by("id").first())
    if head is None:
        return None
    if head.next_attempt_at > now:
        _schedule(endpoint_id, topic, (head.next_attempt_at - now).total_seconds())
        return None
    token = uuid.uuid4()
    claimed = (Delivery.objects.filter(pk=head.pk, status=Delivery.PENDING)
               .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
               .update(lease_until=now + timedelta(seconds=conf.get("WEBHOOKS_LEASE_SECONDS")),
                       lease_token=token))
    return (head, endpoint, token) if claimed else None


def _schedule(endpoint_id, topic, delay):
    if delay <= conf.get("WEBHOOKS_COUNTDOWN_MAX"):
        hook.kick_many([(endpoint_id, topic)], countdown=max(delay, 0.1))
    # later than that: the periodic sweep starts it (sweep())


def _attempt(delivery, endpoint, token):
    """One HTTP attempt of a claimed delivery, recorded; True when the queue may go on
    (delivered, or given up)."""
    started = timezone.now()
    outcome = sending.post(endpoint.url, endpoint.secret, payload(delivery.event),
                           event_id=str(delivery.event.id), event_type=delivery.event.type,
                           attempt=delivery.attempts + 1)
    now = timezone.now()
    with transaction.atomic():
        Attempt.objects.create(delivery=delivery, started_at=started, duration_ms=outcome.duration_ms,
                               status_code=outcome.status_code, ok=outcome.ok, error=outcome.error,
                               response_excerpt=outcome.excerpt)
        mine = Delivery.objects.filter(pk=delivery.pk, lease_token=token, status=Delivery.PENDING)
        attempts = delivery.attempts + 1
        if outcome.ok:
            mine.update(status=Delivery.DELIVERED, delivered_at=now, attempts=F("attempts") + 1,
                        lease_until=None, lease_token=None)
            WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=False).update(
                failing_since=None)
            return True
        gave_up = (now - delivery.created_at).total_seconds() >= conf.get("WEBHOOKS_RETRY_FOR")
        delay = backoff(attempts)
        mine.update(status=Delivery.FAILED if gave_up else Delivery.PENDING, attempts=F("attempts") + 1,
                    next_attempt_at=now + timedelta(seconds=delay), lease_until=None, lease_token=None)
        _note_failure(endpoint, now)
    if gave_up:
        logger.warning("webhook delivery %s to %s given up after %s attempts", delivery.pk,
                       endpoint.url, attempts)
        return True
    _schedule(endpoint.pk, delivery.topic, delay)
    return False


def _note_failure(endpoint, now):
    """Starts the endpoint's failing period, or disables it once that lasted
    WEBHOOKS_DISABLE_AFTER (its owner sees why in the admin)."""
    fresh = WebhookEndpoint.objects.get(pk=endpoint.pk)
    if fresh.failing_since is None:
        WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
        return
    limit = conf.get("WEBHOOKS_DISABLE_AFTER")
    if fresh.enabled and (now - fresh.failing_since).total_seconds() >= limit:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            enabled=False, disabled_at=now,
            disabled_reason=f"Every delivery failed for {limit / 3600:g} h (since "
                            f"{iso(fresh.failing_since)}); enable it again once the receiver works.")
        transaction.on_commit(hook.invalidate)
        logger.warning("webhook endpoint %s (%s) disabled after failing since %s", endpoint.pk,
                       endpoint.url, fresh.failing_since)


def sweep():
    """Starts every queue whose head is due and not held by a live worker: retries that
    came due, queues of a killed worker, kicks the broker lost.  Called by Celery beat
    every 15 s ("webhooks-sweep"); returns the number of queues started."""
    now = timezone.now()
    pairs = sorted(set(
        Delivery.objects.filter(status=Delivery.PENDING, next_attempt_at__lte=now, endpoint__enabled=True)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .values_list("endpoint_id", "topic")))
    hook.kick_many(pairs)
    return len(pairs)


def resend(deliveries):
    """Queues each delivery's event again for its endpoint, as a new delivery at the end
    of its (endpoint, topic) queue, with the same event id (admin action).  Returns the
    new deliveries."""
    now = timezone.now()
    with transaction.atomic():
        fresh = Delivery.objects.bulk_create([
            Delivery(endpoint_id=d.endpoint_id, event_id=d.event_id, topic=d.topic, created_at=now,
                     next_attempt_at=now) for d in deliveries])
        pairs = sorted({(d.endpoint_id, d.topic) for d in fresh})
        transaction.on_commit(lambda: hook.kick_many(pairs), robust=True)
    return fresh


def enable(endpoint):
    """Enables an endpoint again (admin, REST) and restarts its pending queues."""
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=True, failing_since=None,
                                                               disabled_at=None, disabled_reason="")
        transaction.on_commit(hook.invalidate)
        transaction.on_commit(sweep)
