"""Fixtures for realtime tests across real processes (tests/servers.py).

`daphne(count, **env)` starts server processes on the test database and the test Redis,
serving the real application plus the test topic kind `open:<key>`; `throwaway_redis`
gives a test its own redis-server (which it may stop and restart) and points this
process and the servers it starts at it.
"""

import pytest

from tests import servers

# Server timers for these tests: a 1 s heartbeat (presence leases of 2 s) and a 0.5 s
# outbox poll, so failures and recoveries show within a few seconds.
FAST_TIMERS = {
    "REALTIME_HEARTBEAT_INTERVAL": "1",
    "REALTIME_OUTBOX_POLL_INTERVAL": "0.5",
    # The instance lease must outlive a heartbeat or two (renewed every heartbeat).
    "REALTIME_CONNECTION_STALE_AFTER": "3",
    # Tests post hundreds of publishes as one staff user.
    "REST_WRITE_RATE": "100000/min",
}


@pytest.fixture
def daphne(transactional_db, open_kind):
    """daphne(count=1, **env) -> [server, ...] sharing this test's database and Redis;
    all are stopped (process group killed) after the test, with their logs printed when
    it failed."""
    started = []

    def start(count=1, **env):
        env = {"DATABASE_URL": servers.database_url(), **FAST_TIMERS, **env}
        found = servers.start_daphnes(count, env, app=servers.APP_WITH_OPEN_KIND)
        started.extend(found)
        return found

    yield start
    for server in started:
        log = server.log()
        server.stop()
        print(f"--- {server.name} log (shown when the test failed) ---\n{log[-50_000:]}")


@pytest.fixture
def throwaway_redis(settings, monkeypatch):
    """A redis-server this test owns; this process (tickets, publish) and the servers it
    starts afterwards (their REDIS_URL) use it instead of the session's Redis."""
    import os

    from realtime import redis as realtime_redis

    server = servers.start_redis()
    settings.REDIS_URL = server.url
    settings.CHANNEL_LAYERS = {"default": {**settings.CHANNEL_LAYERS["default"], "CONFIG": {
        **settings.CHANNEL_LAYERS["default"]["CONFIG"],
        "hosts": [{"address": server.url, "socket_timeout": None}]}}}
    monkeypatch.setitem(os.environ, "REDIS_URL", server.url)
    monkeypatch.setattr(realtime_redis, "_sync", {})
    monkeypatch.setattr(realtime_redis, "_async", type(realtime_redis._async)())
    yield server
    server.stop()


@pytest.fixture
def staff_token(make_user):
    """(staff user, API token) for POST /api/publish/."""
    from rest_framework.authtoken.models import Token

    staff = make_user("publisher", is_staff=True)
    return staff, Token.objects.create(user=staff).key
