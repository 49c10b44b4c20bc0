"""The sync side of the one async/sync boundary: outbox reads and Connection rows.

Everything here runs in a worker thread through `run_sync` (the consumer and hub never
touch the ORM on the event loop).
"""

import datetime
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from realtime.models import Connection, Event, TopicCounter

# The pools ORM work runs in, by what it is for.  Delivery must never wait behind writes:
# with one shared pool a queue of chat.send transactions delayed every gap fill, outbox
# poll and resume behind it (issue 18).  READS: the hub's outbox reads (functions marked
# @reads below).  ACTIONS: sync action handlers (realtime.registry marks them).  Anything
# unmarked (authorization, session checks, the connection log) keeps the event loop's
# default pool.  Sizes: project/realtime_settings.py (REALTIME_READ_THREADS,
# REALTIME_ACTION_THREADS).
READS, ACTIONS = "reads", "actions"
_pools: dict = {}
_pools_lock = threading.Lock()


def pool(name):
    """The process's executor `name` (READS or ACTIONS), made on first use (and again in a
    forked child, whose inherited pool has no threads)."""
    key = (name, os.getpid())
    executor = _pools.get(key)
    if executor is None:
        with _pools_lock:
            executor = _pools.get(key)
            if executor is None:
                size = settings.REALTIME_READ_THREADS if name == READS \
                    else settings.REALTIME_ACTION_THREADS
                executor = _pools[key] = ThreadPoolExecutor(size, thread_name_prefix=f"rt-{name}")
    return executor


def reads(fn):
    """Marks an outbox read of the delivery path: run_sync runs it in the READS pool."""
    fn.realtime_pool = READS
    return fn


async def run_sync(fn, *args, **kwargs):
    """Runs ORM code in a worker thread: in the pool `fn` is marked for (`realtime_pool`,
    see above), else the event loop's default one.  thread_sensitive=False: connections'
    DB work runs in parallel threads instead of queueing behind one (each thread has its
    own DB connection; stale ones are closed before and after, as Django does per
    request)."""
    name = getattr(fn, "realtime_pool", None)

    def call():
        close_old_connections()
        try:
            return fn(*args, **kwargs)
        finally:
            close_old_connections()

    executor = pool(name) if name else None
    return await sync_to_async(call, thread_sensitive=False, executor=executor)()


@reads
def latest_seq(topic):
    row = TopicCounter.objects.filter(topic=topic).values_list("seq", flat=True).first()
    return row or 0


@reads
def latest_seqs(topics):
    found = dict(TopicCounter.objects.filter(topic__in=list(topics)).values_list("topic", "seq"))
    return {topic: found.get(topic, 0) for topic in topics}


@reads
def events_after(topic, after, limit, upto=None):
    """[(seq, event, data)] of topic with seq > after (and <= upto), in order."""
    qs = Event.objects.filter(topic=topic, seq__gt=after)
    if upto is not None:
        qs = qs.filter(seq__lte=upto)
    return list(qs.order_by("seq").values_list("seq", "event", "data")[:limit])


@reads
def resume_state(topic, since):
    """(latest seq, the first page of events to replay -- [(seq, frame text)], see
    events_page -- or None when `since` is outside the recovery window).  Only counts the
    missed events; the hub reads the later pages as the socket takes the earlier ones."""
    latest = latest_seq(topic)
    if since is None:
        return latest, None
    if since > latest:
        return latest, None  # the client knows a future: its state is from another database
    if since == latest:
        return latest, []
    if latest - since > settings.REALTIME_MAX_REPLAY:
        return latest, None
    if Event.objects.filter(topic=topic, seq__gt=since, seq__lte=latest).count() != latest - since:
        return latest, None  # pruned: part of what was missed is gone
    return latest, events_page(topic, since, latest)


# Most rows one query of a page reads (tiny events: a page is a few queries).
PAGE_QUERY_ROWS = 500


@reads
def events_page(topic, after, upto):
    """[(seq, frame text)] of topic with after < seq <= upto, in order, ending once the
    frames reach REALTIME_RESUME_PAGE_BYTES (a page holds at least one event).  Read in
    chunks sized from the largest event seen so far (the first chunk is one row), so a page
    of 100 KB events is not read 500 rows at a time; frames are made here, in the worker
    thread, where their size is known."""
    from realtime.publish import frame

    budget = settings.REALTIME_RESUME_PAGE_BYTES
    page, size, largest = [], 0, 0
    while size < budget and after < upto:
        rows = 1 if not largest else max(1, min(PAGE_QUERY_ROWS, (budget - size) // largest))
        chunk = events_after(topic, after, rows, upto=upto)
        for seq, event, data in chunk:
            text = frame(topic, event, seq, data)
            page.append((seq, text))
            size += len(text)
            largest = max(largest, len(text))
            after = seq
        if len(chunk) < rows:
            break
    return page


def write_connection_log(records):
    """Applies [("open", row) | ("close", {id, code})] in order, in one transaction.

    Opens are one INSERT, not bulk_create: building the ORM's model instances costs CPU in
    the worker thread, which holds the GIL the event loop needs in a connect storm."""
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
