"""Celery tasks of the feeds app: applying stored ingest batches.

Reliability: the task takes only the batch id (the events are stored on the batch), is
acknowledged after it finishes (acks_late) and given back to the queue when its worker
process dies (reject_on_worker_lost), so a killed worker's batch is redone by another;
services.run_batch makes that safe (per-chunk progress, version comparison).  Only
transient database and Redis errors are retried, with exponential backoff; anything else
is a permanent failure recorded on the batch.
"""

import logging

import redis
from celery import Task, shared_task
from django.db import InterfaceError, OperationalError

from feeds import services
from realtime import flush

logger = logging.getLogger("feeds.tasks")

TRANSIENT_ERRORS = (OperationalError, InterfaceError, redis.ConnectionError, redis.TimeoutError)
# Retries of a transient error: 2, 4, 8 ... s, capped at 5 min, 8 times (~15 min in all):
# longer than a database failover or a Redis restart, short enough to surface an outage.
MAX_RETRIES = 8
RETRY_BACKOFF_MAX = 300


class IngestTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        """Retries are exhausted (or an error escaped): the batch is failed, retryable."""
        batch_id = args[0] if args else kwargs.get("batch_id")
        try:
            services.mark_batch_failed(batch_id, f"{type(exc).__name__}: {exc}")
        except Exception:
            logger.exception("could not mark ingest batch %s failed", batch_id)


@shared_task(bind=True, base=IngestTask, acks_late=True, reject_on_worker_lost=True,
             autoretry_for=TRANSIENT_ERRORS, retry_backoff=2, retry_backoff_max=RETRY_BACKOFF_MAX,
             retry_jitter=True, max_retries=MAX_RETRIES)
def ingest_batch(self, batch_id):
    """Applies IngestBatch `batch_id` (queued by services.queue_events); returns its status."""
    try:
        return services.run_batch(batch_id)
    except TRANSIENT_ERRORS:
        raise  # retried with backoff (autoretry_for)
    except Exception as exc:
        logger.exception("ingest batch %s failed", batch_id)
        services.mark_batch_failed(batch_id, f"{type(exc).__name__}: {exc}")
        return "failed"
    finally:
        # Acknowledge only once this batch's events reached Redis (the outbox has them
        # anyway; this keeps delivery prompt when the process is recycled next).
        flush()
