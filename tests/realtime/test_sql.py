"""realtime.sql.bound_cursor: server-side binding, still Django's errors, logging, transaction."""

import pytest
from django.db import DataError, connection, transaction
from django.test.utils import CaptureQueriesContext

from realtime.models import TopicCounter
from realtime.sql import bound_cursor

pytestmark = pytest.mark.django_db(transaction=True)

CAST = "%s::jsonb::text" if connection.vendor == "postgresql" else "json(%s)"


def test_a_large_json_parameter_goes_through_in_the_callers_transaction():
    document = '{"k": "' + "é" * 500_000 + '"}'
    with CaptureQueriesContext(connection) as queries, bound_cursor() as cursor:
        cursor.execute(f"SELECT length({CAST})", [document])
        assert cursor.fetchone()[0] > 0
    assert len(queries) == 1  # logged like any Django query
    with pytest.raises(RuntimeError), transaction.atomic():
        with bound_cursor() as cursor:
            cursor.execute("INSERT INTO realtime_topiccounter (topic, seq) VALUES (%s, %s)", ["t:1", 1])
        raise RuntimeError("rolled back")
    assert not TopicCounter.objects.exists()


@pytest.mark.postgres  # SQLite accepts anything as JSON text here
def test_database_errors_are_djangos():
    with pytest.raises(DataError), transaction.atomic(), bound_cursor() as cursor:
        cursor.execute("SELECT %s::jsonb", ['{"nul": "\\u0000"}'])
