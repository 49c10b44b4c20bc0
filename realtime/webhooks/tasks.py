"""Celery tasks of webhooks.  They take ids, are idempotent, acknowledged after they finish
(acks_late) and given back when their worker dies (reject_on_worker_lost); only transient
database and Redis errors are retried by Celery (an HTTP failure is the delivery's own
retry, with its backoff, in realtime.webhooks.delivery)."""

import logging
import time

import redis
from celery import shared_task
from django.db import InterfaceError, OperationalError

logger = logging.getLogger("realtime.webhooks")

TRANSIENT_ERRORS = (OperationalError, InterfaceError, redis.ConnectionError, redis.TimeoutError)
# Celery retries of a transient error: 2, 4, 8 ... s up to 60 s, 6 times; past that the
# periodic sweep starts the queue again anyway.
MAX_RETRIES = 6
RETRY_BACKOFF_MAX = 60
OPTIONS = {"acks_late": True, "reject_on_worker_lost": True, "autoretry_for": TRANSIENT_ERRORS,
           "retry_backoff": 2, "retry_backoff_max": RETRY_BACKOFF_MAX, "retry_jitter": True,
           "max_retries": MAX_RETRIES}


@shared_task(name="realtime.webhooks.deliver", **OPTIONS)
def deliver(endpoint_id, topic):
    """Sends the due deliveries of (endpoint, topic) in order (delivery.run_queue)."""
    from realtime.webhooks import delivery

    return delivery.run_queue(endpoint_id, topic)


@shared_task(name="realtime.webhooks.sweep", **OPTIONS)
def sweep():
    """Restarts due or abandoned queues (Celery beat "webhooks-sweep", every 15 s)."""
    from realtime.webhooks import delivery

    return delivery.sweep()


# Redis key per room: "1" while it counts as occupied, "0" once vacated.
OCCUPANCY_KEY = "sb:wh:occ:{topic}"
# A day: an idle room's state outlives any debounce, and stale keys go away.
OCCUPANCY_KEY_TTL = 86400


@shared_task(name="realtime.webhooks.check_occupancy", **OPTIONS)
def check_occupancy(topic):
    """Compares who is in room `topic` now with the last announced state and emits
    room.occupied / room.vacated on a change.  Queued WEBHOOKS_OCCUPANCY_DEBOUNCE s after
    a presence change; the state swap is one atomic SET ... GET, so of concurrent checks
    exactly one announces a change."""
    import orjson

    from realtime.presence import infos_key, members_key
    from realtime.redis import sync_client
    from realtime.webhooks import hook

    client = sync_client()
    ids = client.zrangebyscore(members_key(topic), time.time(), "+inf")
    state = b"1" if ids else b"0"
    previous = client.set(OCCUPANCY_KEY.format(topic=topic), state, ex=OCCUPANCY_KEY_TTL, get=True)
    if previous == state or (previous is None and state == b"0"):
        return None
    users = sorted((orjson.loads(info) for info in client.hmget(infos_key(topic), ids) if info),
                   key=lambda user: user["id"]) if ids else []
    event = "room.occupied" if ids else "room.vacated"
    hook.emit(event, topic, {"users": users})
    return event
