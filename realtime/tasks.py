"""Periodic maintenance (Celery beat): outbox pruning and the connection sweep."""

from celery import shared_task
from django.utils import timezone

from realtime import store
from realtime.models import Connection


@shared_task(acks_late=True)
def prune_outbox():
    """Keeps the recovery window bounded (REALTIME_HISTORY_SIZE / _SECONDS); idempotent."""
    return store.prune_events()


@shared_task(acks_late=True)
def sweep_connections():
    """Closes Connection rows of server processes that stopped renewing their lease
    (killed without running their own cleanup); idempotent."""
    from realtime.redis import sync_client

    instances = set(Connection.objects.filter(closed_at__isnull=True)
                    .values_list("server_instance", flat=True).distinct())
    client = sync_client()
    dead = [i for i in instances if not client.exists(f"sb:inst:{i}")]
    if not dead:
        return 0
    return Connection.objects.filter(closed_at__isnull=True, server_instance__in=dead).update(
        closed_at=timezone.now(), close_code=1006)
