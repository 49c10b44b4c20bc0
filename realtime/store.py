"""The sync side of the one async/sync boundary: outbox reads and Connection rows.

Everything here runs in a worker thread through `run_sync` (the consumer and hub never
touch the ORM on the event loop).
"""

import datetime

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from realtime.models import Connection, Event, TopicCounter


async def run_sync(fn, *args, **kwargs):
    """Runs ORM code in the thread pool.  thread_sensitive=False: connections' DB work runs
    in parallel threads instead of queueing behind one (each thread has its own DB
    connection; stale ones are closed before and after, as Django does per request)."""

    def call():
        close_old_connections()
        try:
            return fn(*args, **kwargs)
        finally:
            close_old_connections()

    return await sync_to_async(call, thread_sensitive=False)()


def latest_seq(topic):
    row = TopicCounter.objects.filter(topic=topic).values_list("seq", flat=True).first()
    return row or 0


def latest_seqs(topics):
    found = dict(TopicCounter.objects.filter(topic__in=list(topics)).values_list("topic", "seq"))
    return {topic: found.get(topic, 0) for topic in topics}


def events_after(topic, after, limit, upto=None):
    """[(seq, event, data)] of topic with seq > after (and <= upto), in order."""
    qs = Event.objects.filter(topic=topic, seq__gt=after)
    if upto is not None:
        qs = qs.filter(seq__lte=upto)
    return list(qs.order_by("seq").values_list("seq", "event", "data")[:limit])


def resume_state(topic, since):
    """(latest seq, events to replay or None when `since` is outside the recovery window)."""
    latest = latest_seq(topic)
    if since is None:
        return latest, None
    if since > latest:
        return latest, None  # the client knows a future: its state is from another database
    if since == latest:
        return latest, []
    if latest - since > settings.REALTIME_MAX_REPLAY:
        return latest, None
    events = events_after(topic, since, settings.REALTIME_MAX_REPLAY, upto=latest)
    if not events or events[0][0] != since + 1 or len(events) != latest - since:
        return latest, None  # pruned: part of what was missed is gone
    return latest, events


def write_connection_log(records):
    """Applies [("open", row) | ("close", {id, code})] in order, in one transaction."""
    from django.db import transaction

    opens = [Connection(id=r["connection_id"], user_id=r["user_id"], client_address=r["address"][:64],
                        user_agent=r["user_agent"][:300], server_instance=r["instance"])
             for kind, r in records if kind == "open"]
    now = timezone.now()
    with transaction.atomic():
        if opens:
            Connection.objects.bulk_create(opens, ignore_conflicts=True)
        by_code = {}
        for kind, r in records:
            if kind == "close":
                by_code.setdefault(r["code"], []).append(r["id"])
        for code, ids in by_code.items():
            Connection.objects.filter(id__in=ids, closed_at__isnull=True).update(
                closed_at=now, close_code=code)


def load_user(user_id):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(pk=user_id, is_active=True).first()


def prune_events(now=None):
    """Drops events outside every topic's recovery window; returns how many."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(seconds=settings.REALTIME_HISTORY_SECONDS)
    deleted, _ = Event.objects.filter(created_at__lt=cutoff).delete()
    keep = settings.REALTIME_HISTORY_SIZE
    for topic, seq in TopicCounter.objects.filter(seq__gt=keep).values_list("topic", "seq"):
        n, _ = Event.objects.filter(topic=topic, seq__lte=seq - keep).delete()
        deleted += n
    return deleted
