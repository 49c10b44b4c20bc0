"""Fixtures shared by every test package: users, API clients, real sockets."""

import itertools

import pytest
from rest_framework.test import APIClient

from tests.ws import connect_ws  # noqa: F401  (re-exported for tests)

_counter = itertools.count(1)


@pytest.fixture
def make_user(django_user_model):
    """make_user(username=None, **fields) -> a saved user whose password is 'pw-<username>'."""

    def make(username=None, **fields):
        username = username or f"user{next(_counter)}"
        fields.setdefault("display_name", username.title())
        return django_user_model.objects.create_user(username, password=f"pw-{username}", **fields)

    return make


@pytest.fixture
def user(make_user):
    return make_user("alice")


@pytest.fixture
def staff(make_user):
    return make_user("staffer", is_staff=True)


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def api_as(make_user):
    """api_as(user) -> an APIClient authenticated with that user's token."""
    from rest_framework.authtoken.models import Token

    def make(user):
        client = APIClient()
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


@pytest.fixture(autouse=True)
def _clean_redis():
    """Each test starts with an empty Redis database (presence, tickets, throttles)."""
    from realtime.redis import sync_client

    sync_client().flushdb()
    yield


@pytest.fixture
async def hub_cleanup():
    """Stops the event loop's realtime hub after an in-process socket test."""
    yield
    from realtime.hub import close_hub

    await close_hub()


@pytest.fixture(scope="session", autouse=True)
def _close_db_pools(django_db_setup, django_db_blocker):
    """Closes psycopg pools (connections of worker threads) before the test DB is dropped."""
    yield
    from django.db import connections

    with django_db_blocker.unblock():
        for conn in connections.all():
            if conn.vendor == "postgresql":
                # Connections checked out by executor threads of async tests are never
                # returned to the pool; end them so the test database can be dropped.
                with conn.cursor() as cursor:
                    cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                   "WHERE datname = current_database() AND pid <> pg_backend_pid()")
                conn.close_pool()
                conn.close()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database, and on PostgreSQL without waiting for the disk at each
    commit (synchronous_commit off, for every session of that database: this process and the
    server processes the tests start).  Nothing a test observes changes: a commit is visible
    to other sessions at once either way; only a crash of the machine could lose the last
    commits of a database that is dropped at the end of the run anyway.  SQLite's test
    database does the same with PRAGMA synchronous=NORMAL (project/env.py)."""
    from django.db import connections

    with django_db_blocker.unblock():
        for conn in connections.all():
            if conn.vendor == "postgresql":
                with conn.cursor() as cursor:
                    cursor.execute(f"ALTER DATABASE {conn.ops.quote_name(conn.settings_dict['NAME'])} "
                                   "SET synchronous_commit = off")
                # Connections opened before (the migrations') keep the old value: reopen.
                conn.close_pool()
                conn.close()
    yield


@pytest.fixture(scope="session", autouse=True)
def _flush_tables_with_delete():
    """Transactional tests end by emptying every table (Django's flush).  On PostgreSQL
    Django does it with one TRUNCATE of all tables, which replaces every table's files:
    far slower than a DELETE of the few rows a test leaves.  Django creates foreign keys
    DEFERRABLE INITIALLY DEFERRED and the flush runs in one transaction, so the tables
    may be emptied in any order.  A flush that resets sequences or cascades (not what
    pytest-django's transactional tests ask for) keeps Django's TRUNCATE."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or allow_cascade:
            return original(self, style, tables, reset_sequences=reset_sequences,
                            allow_cascade=allow_cascade)
        return [f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(self.quote_name(table))};"
                for table in tables]

    DatabaseOperations.sql_flush = sql_flush
    yield
    DatabaseOperations.sql_flush = original


@pytest.fixture
def open_kind():
    """A topic kind `open:<key>` anyone signed in may read and write, with presence, for
    tests of the realtime layer alone (removed afterwards)."""
    from realtime import registry

    registry.register_topic_kind("open", authorize=lambda user, key, access: True, presence=True,
                                 anonymous_read=True)
    yield "open"
    registry.topic_kinds.pop("open", None)


@pytest.fixture(scope="session", autouse=True)
def _retry_table_flush_on_deadlock():
    """Transactional tests end by flushing every table (TRUNCATE on PostgreSQL).  Server
    processes the tests started (daphne, Celery workers) keep writing meanwhile (the
    connection log, heartbeats), and PostgreSQL may pick the TRUNCATE as a deadlock
    victim: retry it instead of failing an unrelated test."""
    import time

    from django.test import TransactionTestCase

    original = TransactionTestCase._fixture_teardown

    def teardown(self):
        for attempt in range(5):
            try:
                return original(self)
            except Exception as exc:
                if "deadlock detected" not in str(exc) or attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    TransactionTestCase._fixture_teardown = teardown
    yield
    TransactionTestCase._fixture_teardown = original
