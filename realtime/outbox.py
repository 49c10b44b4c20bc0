"""The outbox write of durable events (realtime.Event rows and their topic's TopicCounter),
used by realtime.publish: one statement per topic on PostgreSQL.  Also the two ways stored
events change after the fact: rewrite() (an edited or deleted object's old events carry
its current state) and retire() (a deleted room's or feed's topics)."""

import orjson
from django.db import connection
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

from realtime.models import Event
from realtime.sql import bound_cursor


def append(topic, rows, now):
    """Adds [(event, data JSON bytes), ...] to the topic's outbox with the next seqs;
    returns the last seq given.  The counter row stays locked until the transaction ends
    (PostgreSQL row lock; SQLite's IMMEDIATE write lock), so seqs are gap-free and commit
    in order."""
    n = len(rows)
    with bound_cursor() as cursor:
        if connection.vendor == "postgresql":
            # Counter and rows in one round trip: the rows come as one JSON array
            # [[event, data], ...] numbered by WITH ORDINALITY.
            array = b"[" + b",".join(b"[" + orjson.dumps(event) + b"," + data + b"]"
                                     for event, data in rows) + b"]"
            cursor.execute(
                "WITH c AS (INSERT INTO realtime_topiccounter AS t (topic, seq) "
                "VALUES (%s::text, %s::bigint) "
                "ON CONFLICT (topic) DO UPDATE SET seq = t.seq + excluded.seq RETURNING t.seq), "
                "e AS (INSERT INTO realtime_event (topic, seq, event, data, created_at) "
                "SELECT %s::text, c.seq - %s::bigint + x.ord, x.value->>0, x.value->1, %s::timestamptz "
                "FROM c, jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS x(value, ord)) "
                "SELECT seq FROM c",
                [topic, n, topic, n, now, array.decode()],
            )
            return cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO realtime_topiccounter (topic, seq) VALUES (%s, %s) ON CONFLICT (topic) "
            "DO UPDATE SET seq = realtime_topiccounter.seq + excluded.seq RETURNING seq",
            [topic, n],
        )
        last = cursor.fetchone()[0]
        created = connection.ops.adapt_datetimefield_value(now)
        cursor.executemany(
            "INSERT INTO realtime_event (topic, seq, event, data, created_at) "
            "VALUES (%s, %s, %s, %s, %s)",
            [(topic, last - n + 1 + i, event, data.decode(), created)
             for i, (event, data) in enumerate(rows)],
        )
        return last


def append_many(groups, now):
    """Several topics' outbox rows in one statement on PostgreSQL: {topic: [(event, data
    JSON bytes), ...]} -> {topic: last seq given}.  A batch of sends to many rooms (chat's
    group commit) costs one round trip instead of one per topic.  Counters are bumped in
    topic order (two writers of the same topics cannot deadlock) and stay locked until
    the transaction ends, as in append().  Elsewhere: append() per topic, in topic order."""
    if connection.vendor != "postgresql" or len(groups) == 1:
        return {topic: append(topic, groups[topic], now) for topic in sorted(groups)}
    array = b"[" + b",".join(b"[" + orjson.dumps(topic) + b"," + orjson.dumps(event) + b"," + data + b"]"
                             for topic in sorted(groups) for event, data in groups[topic]) + b"]"
    with bound_cursor() as cursor:
        cursor.execute(
            "WITH x AS (SELECT a.value->>0 AS topic, a.value->>1 AS event, a.value->2 AS data, a.ord "
            "FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS a(value, ord)), "
            "n AS (SELECT topic, count(*) AS n FROM x GROUP BY topic), "
            "c AS (INSERT INTO realtime_topiccounter AS t (topic, seq) "
            "SELECT topic, n FROM n ORDER BY topic "
            "ON CONFLICT (topic) DO UPDATE SET seq = t.seq + excluded.seq RETURNING t.topic, t.seq), "
            "e AS (INSERT INTO realtime_event (topic, seq, event, data, created_at) "
            "SELECT x.topic, c.seq - n.n + row_number() OVER (PARTITION BY x.topic ORDER BY x.ord), "
            "x.event, x.data, %s::timestamptz FROM x JOIN c ON c.topic = x.topic "
            "JOIN n ON n.topic = x.topic) "
            "SELECT topic, seq FROM c",
            [array.decode(), now],
        )
        return dict(cursor.fetchall())


# --- redaction and retirement (deleted data stays deleted) ---------------------------------
def find(topic, names, values, *, path, within=None):
    """[(seq, event, data)] of topic's stored events named in `names` whose data at `path`
    (e.g. ("message", "id")) is one of `values`; with `within` (a list's key, e.g. "items"),
    those where any element of data[within] has `path` among `values`.  Called by apps in
    the transaction of an edit or delete, before rewrite(); the values are compared as JSON
    scalars (ints with ints, strings with strings)."""
    values = list(values)
    if not values:
        return []
    column = '"realtime_event"."data"'
    if connection.vendor == "postgresql":
        params = [list(path), [str(v) for v in values]]
        if within is None:
            sql = f"({column} #>> %s::text[]) = ANY(%s::text[])"
        else:
            sql = (f"EXISTS (SELECT 1 FROM jsonb_array_elements({column} -> %s::text) AS x "
                   "WHERE (x #>> %s::text[]) = ANY(%s::text[]))")
            params = [within, *params]
    else:
        json_path = "$." + ".".join(path)
        params = [json_path, orjson.dumps(values).decode()]
        if within is None:
            sql = f"json_extract({column}, %s) IN (SELECT value FROM json_each(%s))"
        else:
            sql = (f"EXISTS (SELECT 1 FROM json_each({column}, %s) AS x WHERE "
                   "json_extract(x.value, %s) IN (SELECT value FROM json_each(%s)))")
            params = ["$." + within, *params]
    condition = RawSQL(sql, params, output_field=BooleanField())
    return list(Event.objects.filter(condition, topic=topic, event__in=list(names))
                .order_by("seq").values_list("seq", "event", "data"))


def rewrite(topic, changes):
    """Replaces the data of stored events {seq: new data}, keeping their seq, name and
    time: resume and gap fills replay the new data in the same order, without a gap.
    The caller checks the new data against the event's schema (the outbox does not)."""
    for seq, data in changes.items():
        Event.objects.filter(topic=topic, seq=seq).update(data=data)
    return len(changes)


def retire(topics, now):
    """Called in the transaction that deletes what `topics` belong to (a room, a feed):
    drops their stored events and moves each counter to a fresh epoch, the deletion time
    in microseconds (or one past its last seq if that is higher).  A new room or feed of
    the same slug continues from there, so a client's `since` from the old one is below
    the new seqs and not one of them: resume answers `recovered: false` (a gap), never a
    silent continuation.  Microseconds: a topic cannot publish a million events a second,
    so an epoch is always above the seqs of the topic's previous life, and the numbers
    stay below 2**53, exact in JavaScript, until the year 2255."""
    topics = list(topics)
    Event.objects.filter(topic__in=topics).delete()
    epoch = int(now.timestamp() * 1_000_000)
    higher = "GREATEST(t.seq + 1, excluded.seq)" if connection.vendor == "postgresql" \
        else "max(t.seq + 1, excluded.seq)"
    with connection.cursor() as cursor:
        for topic in topics:
            cursor.execute(
                "INSERT INTO realtime_topiccounter AS t (topic, seq) VALUES (%s, %s) "
                f"ON CONFLICT (topic) DO UPDATE SET seq = {higher}", [topic, epoch])
