"""Real daphne processes for the client library's tests (tests/servers.py), which a test
may kill and start again on the same port, and a REST token for the test user."""

import pytest

from tests import servers

# Server timers for these tests: a 1 s heartbeat and a 0.5 s outbox poll, so a restart's
# aftermath settles within a second or two; tickets and writes are not throttled.
FAST_TIMERS = {
    "REALTIME_HEARTBEAT_INTERVAL": "1",
    "REALTIME_OUTBOX_POLL_INTERVAL": "0.5",
    "REALTIME_CONNECTION_STALE_AFTER": "3",
    "REST_WRITE_RATE": "100000/min",
}


class Site:
    """start(**env) -> a daphne on the test database and Redis (with the `open:` topic
    kind); restart(server) kills it (SIGKILL: a crash) and starts one on the same port."""

    def __init__(self):
        self.started = []
        self.env = {}

    def start(self, port=None, **env):
        self.env = {"DATABASE_URL": servers.database_url(), **FAST_TIMERS, **env}
        server = servers.start_daphne(port=port, env=self.env, app=servers.APP_WITH_OPEN_KIND)
        self.started.append(server)
        return server

    def restart(self, server):
        server.kill9()
        server = servers.start_daphne(port=server.port, env=self.env, app=servers.APP_WITH_OPEN_KIND)
        self.started.append(server)
        return server


@pytest.fixture
def site(transactional_db, open_kind):
    found = Site()
    yield found
    for server in found.started:
        log = server.log()
        server.stop()
        print(f"--- {server.name} log (shown when the test failed) ---\n{log[-20_000:]}")


@pytest.fixture
def token(user):
    """The REST API token of `user` (alice)."""
    from rest_framework.authtoken.models import Token

    return Token.objects.create(user=user).key

