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
    """Applies [("open", row) | ("close", {id, code})] in order, in one transaction.

    Opens are one INSERT, not bulk_create: the ORM's model instances cost ~30 us a row in
    the worker thread, which holds the GIL the event loop needs in a connect storm (~5 %
    of a connect's CPU)."""
    from django.db import connection, transaction

    now = timezone.now()
    opens = [r for kind, r in records if kind == "open"]
    with transaction.atomic():
        if opens:
            _insert_opens(connection, opens, now)
        by_code = {}
        for kind, r in records:
            if kind == "close":
                by_code.setdefault(r["code"], []).append(r["id"])
        for code, ids in by_code.items():
            Connection.objects.filter(id__in=ids, closed_at__isnull=True).update(
                closed_at=now, close_code=code)


def _insert_opens(connection, rows, now):
    """INSERT ... ON CONFLICT DO NOTHING of Connection rows (a batch retried after a failed
    commit may hold rows already written).  A user deleted since connecting is written as
    no user (the foreign key would fail the whole batch, and every retry of it).  On
    PostgreSQL one statement of five arrays (unnest): its text does not grow with the
    batch, so psycopg parses it once."""
    meta = Connection._meta
    quote = connection.ops.quote_name
    names = ("id", "user", "opened_at", "client_address", "user_agent", "server_instance")
    columns = ", ".join(quote(meta.get_field(name).column) for name in names)
    users_meta = meta.get_field("user").related_model._meta
    users, user_pk = quote(users_meta.db_table), quote(users_meta.pk.column)
    head = f"INSERT INTO {quote(meta.db_table)} ({columns}) "
    tail = f" ON CONFLICT ({quote(meta.pk.column)}) DO NOTHING"
    values = [[r["connection_id"] for r in rows], [r["user_id"] for r in rows],
              [r["address"][:64] for r in rows], [r["user_agent"][:300] for r in rows],
              [r["instance"] for r in rows]]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                head + f"SELECT t.i, u.{user_pk}, %s, t.a, t.g, t.n FROM unnest(%s::uuid[], "
                "%s::bigint[], %s::text[], %s::text[], %s::text[]) AS t(i, u_id, a, g, n) "
                f"LEFT JOIN {users} u ON u.{user_pk} = t.u_id" + tail, [now, *values])
        else:
            prep_id = meta.pk.get_db_prep_save
            opened_at = meta.get_field("opened_at").get_db_prep_save(now, connection)
            # "WHERE 1": SQLite's parser needs it before ON CONFLICT after a SELECT.
            cursor.executemany(
                head + f"SELECT %s, (SELECT {user_pk} FROM {users} WHERE {user_pk} = %s), %s, %s,"
                " %s, %s WHERE 1" + tail,
                [(prep_id(i, connection), u, opened_at, a, g, n)
                 for i, u, a, g, n in zip(*values, strict=True)])


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
