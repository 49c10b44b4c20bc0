"""The outbox write of durable events (realtime.Event rows and their topic's TopicCounter),
used by realtime.publish: one statement per topic on PostgreSQL."""

import orjson
from django.db import connection

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
