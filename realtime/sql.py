"""A database cursor for statements with large parameters (the outbox, feed ingest).

Django's PostgreSQL backend binds parameters client-side: psycopg escapes every value into
the SQL text, which for a large JSON document (a whole ingest batch) costs noticeable Python
time per statement, plus the server's parsing of that text.  `bound_cursor()` sends the
parameters apart from the SQL instead (server-side binding), still through Django's cursor
wrapper (error translation, query logging, broken-transaction checks), on the same
connection and so in the same transaction.  Statements are never prepared, so this also
works behind PgBouncer in transaction mode.  Parameters should be cast in the SQL
(`%s::jsonb`, `%s::bigint`): they are sent untyped.  Other databases get Django's cursor.
"""

import psycopg
from django.db import connection


class _BoundCursor(psycopg.Cursor):
    """psycopg's server-side binding cursor, never preparing a statement."""

    def execute(self, query, params=None, *, prepare=False, binary=None):
        return super().execute(query, params, prepare=prepare, binary=binary)


def bound_cursor():
    """A cursor (use as a context manager) binding its parameters server-side on
    PostgreSQL; Django's ordinary cursor elsewhere."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    raw = _BoundCursor(connection.connection)
    return connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)
