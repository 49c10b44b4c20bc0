"""Fixtures for reliability tests: real server processes (daphne or uvicorn) on the test
database and Redis, serving the real application plus the test topic kind `open:<key>`."""

import sys

import pytest

from tests import servers
from tests.realtime.conftest import FAST_TIMERS, staff_token  # noqa: F401  (re-exported fixture)


class UvicornServer(servers.DaphneServer):
    """uvicorn with uvloop and the websockets protocol, as `SERVER=uvicorn make run` runs
    it (project/stack.py), plus whatever extra flags a test passes."""

    def __init__(self, port, env, app, extra_args=()):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}/ws/"
        self.redis_url = env.get("REDIS_URL")
        servers.Process.__init__(self, [
            sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
            "--loop", "uvloop", "--ws", "websockets-sansio", "--lifespan", "off", "--no-access-log",
            *extra_args], env, f"uvicorn-{port}")


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
