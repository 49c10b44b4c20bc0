"""Fixtures for reliability tests: real server processes (daphne or uvicorn) on the test
database and Redis, serving the real application plus the test topic kind `open:<key>`."""

import pytest

from tests import servers
from tests.realtime.conftest import FAST_TIMERS, staff_token  # noqa: F401  (re-exported fixture)

UvicornServer = servers.UvicornServer  # one definition, beside start_daphne


@pytest.fixture
def asgi_server(transactional_db, open_kind):
    """asgi_server(kind="daphne"|"uvicorn", extra_args=(), **env) -> a started server;
    stopped after the test (its log printed, shown when the test failed)."""
    started = []

    def start(kind="uvicorn", extra_args=(), **env):
        env = servers.server_env({"DATABASE_URL": servers.database_url(), **FAST_TIMERS, **env})
        if kind == "uvicorn":
            server = UvicornServer(servers.free_port(), env, servers.APP_WITH_OPEN_KIND, extra_args)
        else:
            server = servers.DaphneServer(servers.free_port(), env, servers.APP_WITH_OPEN_KIND)
        started.append(server)
        return server.wait_ready()

    yield start
    for server in started:
        log = server.log()
        server.stop()
        print(f"--- {server.name} log (shown when the test failed) ---\n{log[-20_000:]}")
