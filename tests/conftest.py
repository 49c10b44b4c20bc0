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
    database does the same with PRAGMA synchronous=NORMAL (project/env.py).  Also counts the
    rows migrate left in KEPT_TABLES (see _flush_after_transactional_tests)."""
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
            _kept_rows[conn.alias] = _count_rows(conn, _kept_tables(conn))
    yield


# Tables the flush after a transactional test keeps as migrate filled them: the content
# types and permissions, which Django's flush deletes and then re-creates (its post_migrate
# handlers, dozens of queries) after every such test.
KEPT_TABLES = ("django_content_type", "auth_permission")
_kept_rows = {}  # database alias -> {table: its row count after migrate}


def _kept_tables(conn):
    return [table for table in KEPT_TABLES if table in conn.introspection.table_names()]


def _count_rows(conn, tables):
    counts = {}
    with conn.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT COUNT(*) FROM {conn.ops.quote_name(table)}")
            counts[table] = cursor.fetchone()[0]
    return counts


def _delete_rows(conn, tables):
    """Empties `tables` in one transaction.  Django creates foreign keys DEFERRABLE
    INITIALLY DEFERRED, so the order does not matter.  Django's flush on PostgreSQL is one
    TRUNCATE of every table, which replaces all their files: far slower than deleting the
    few rows a test leaves (on SQLite Django's flush is these DELETEs too)."""
    from django.db import transaction

    with transaction.atomic(using=conn.alias), conn.cursor() as cursor:
        for table in tables:
            cursor.execute(f"DELETE FROM {conn.ops.quote_name(table)}")


def _flush(test):
    """What Django's flush after a transactional test leaves, without its cost: every table
    empty but KEPT_TABLES, which hold what post_migrate would re-create.  Should a test have
    changed how many rows they hold, they are emptied and re-created as Django does."""
    from django.core.management.sql import emit_post_migrate_signal
    from django.db import connections

    for alias in test._databases_names(include_mirrors=False):
        conn = connections[alias]
        tables = conn.introspection.django_table_names(only_existing=True, include_views=False)
        kept = [table for table in KEPT_TABLES if table in tables]
        _delete_rows(conn, [table for table in tables if table not in kept])
        if _count_rows(conn, kept) != _kept_rows.get(alias):
            _delete_rows(conn, kept)
            emit_post_migrate_signal(0, False, alias)


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
def _flush_after_transactional_tests():
    """Transactional tests end by emptying every table: _flush, unless a test asks for
    Django's own variants (available_apps, serialized_rollback; none here so far).  Server
    processes the tests started (daphne, Celery workers) keep writing meanwhile (the
    connection log, heartbeats), and PostgreSQL may pick the flush as a deadlock victim:
    it is retried instead of failing an unrelated test."""
    import time

    from django.test import TransactionTestCase

    original = TransactionTestCase._fixture_teardown

    def teardown(self):
        plain = self.available_apps is None and not self.serialized_rollback
        for attempt in range(5):
            try:
                return _flush(self) if plain else original(self)
            except Exception as exc:
                if "deadlock detected" not in str(exc) or attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    TransactionTestCase._fixture_teardown = teardown
    yield
    TransactionTestCase._fixture_teardown = original
