"""Real server processes for tests: daphne (or uvicorn) on a TCP port, a throwaway
redis-server, and (tests/socket_client.py, re-exported here) a protocol client over real
sockets: the client library's raw core over its `websockets` transport.

    server = start_daphne(env={"DATABASE_URL": database_url(), "REALTIME_HEARTBEAT_INTERVAL": "1"})
    async with await connect_client(server, user) as client:
        await client.subscribe("room:lobby")
        event = await client.next_event()
    server.stop()

Processes run in their own session and are killed as a group, so nothing outlives a test
(use them from fixtures with finalizers; see tests/realtime/conftest.py).  Server output
goes to a temp file: `server.log()` shows it when a test fails.

`APP_WITH_OPEN_KIND` is the real ASGI application plus the test-only topic kind `open:<key>`
(anyone signed in may read and write, with presence), like the `open_kind` fixture in
process, so the realtime layer can be tested across processes without any app.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_APP = "project.asgi:application"
APP_WITH_OPEN_KIND = "tests.servers:open_kind_application"
# Seconds a fresh daphne may take to import Django and answer /healthz.
START_TIMEOUT = 30.0
# Seconds a stopped server gets to close its sockets after SIGTERM before SIGKILL.
STOP_GRACE = 5.0
# Seconds a test's HTTP call or socket wait may take against a real (possibly busy) server.
DEFAULT_TIMEOUT = 10.0


def __getattr__(name):
    """`tests.servers:open_kind_application` for daphne: imported lazily, in the server."""
    if name == "open_kind_application":
        from project.asgi import application

        register_open_kind()
        return application
    raise AttributeError(name)


def register_open_kind():
    """Registers the test topic kind `open:<key>` in this process (idempotent)."""
    from realtime import registry

    if "open" not in registry.topic_kinds:
        registry.register_topic_kind("open", authorize=lambda user, key, access: True,
                                     presence=True, anonymous_read=True)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url():
    """A DATABASE_URL naming the database the tests use right now (the test database).
    Call it inside a test with database access (django_db(transaction=True): server
    processes only see committed rows)."""
    from django.db import connection

    conf = connection.settings_dict
    if connection.vendor == "sqlite":
        return "sqlite:///" + str(Path(conf["NAME"]).resolve())
    if connection.vendor == "postgresql":
        auth = conf["USER"] or ""
        if conf.get("PASSWORD"):
            auth += ":" + conf["PASSWORD"]
        host = conf["HOST"] or "127.0.0.1"
        port = f":{conf['PORT']}" if conf.get("PORT") else ""
        return f"postgres://{auth}{'@' if auth else ''}{host}{port}/{conf['NAME']}"
    raise RuntimeError(f"no DATABASE_URL for {connection.vendor}")


def _kill_group(proc, sig):
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


class Process:
    """A child process in its own session, output in a temp file."""

    def __init__(self, args, env, name):
        self.name = name
        self.logfile = tempfile.NamedTemporaryFile(prefix=f"{name}-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self.logfile,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.proc.pid

    @property
    def alive(self):
        return self.proc.poll() is None

    def kill9(self):
        """SIGKILL the whole process group: no cleanup runs (a crashed server)."""
        _kill_group(self.proc, signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        """TERM, then KILL after STOP_GRACE; idempotent.  Also removes the log file."""
        if self.alive:
            _kill_group(self.proc, signal.SIGTERM)
            try:
                self.proc.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.kill9()
        with contextlib.suppress(OSError):
            self.logfile.close()
            os.unlink(self.logfile.name)

    def log(self):
        try:
            return Path(self.logfile.name).read_text(errors="replace")
        except OSError:
            return ""


class DaphneServer(Process):
    def __init__(self, port, env, app):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}/ws/"
        self.redis_url = env.get("REDIS_URL")
        super().__init__([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), app],
                         env, f"daphne-{port}")

    def wait_ready(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeError(f"daphne exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"daphne did not answer /healthz in {timeout}s:\n{self.log()[-3000:]}")

    def post(self, path, body, token=None, timeout=DEFAULT_TIMEOUT):
        """POSTs JSON; returns (status, parsed body)."""
        request = urllib.request.Request(self.url + path, data=orjson.dumps(body), method="POST",
                                         headers={"Content-Type": "application/json"})
        if token:
            request.add_header("Authorization", f"Token {token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, orjson.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, orjson.loads(exc.read() or b"null")


class UvicornServer(DaphneServer):
    """uvicorn with uvloop and the websockets protocol, as `SERVER=uvicorn make run` runs
    it (project/stack.py web_command), plus whatever extra flags a test passes."""

    def __init__(self, port, env, app, extra_args=()):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}/ws/"
        self.redis_url = env.get("REDIS_URL")
        Process.__init__(self, [
            sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
            "--loop", "uvloop", "--ws", "websockets-sansio", "--lifespan", "off", "--no-access-log",
            *extra_args], env, f"uvicorn-{port}")


def server_env(env=None):
    """The test process's environment (REDIS_URL from the root conftest) for a server."""
    full = dict(os.environ)
    full.update({"SWITCHBOARD_TESTING": "1", "DJANGO_SETTINGS_MODULE": "project.settings",
                 "PYTHONUNBUFFERED": "1"})
    full.pop("PYTEST_CURRENT_TEST", None)
    full.update({key: str(value) for key, value in (env or {}).items()})
    return full


def start_daphne(port=None, env=None, app=DEFAULT_APP):
    """Starts daphne serving `app` and waits until /healthz answers; stop() it afterwards."""
    return start_daphnes(1, env, app, port=port)[0]


def start_daphnes(count, env=None, app=DEFAULT_APP, port=None):
    """Starts `count` daphne processes at once (they import Django in parallel)."""
    servers = [DaphneServer(port if port and i == 0 else free_port(), server_env(env), app)
               for i in range(count)]
    try:
        for server in servers:
            server.wait_ready()
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers


def start_uvicorn(port=None, env=None, app=DEFAULT_APP, extra_args=()):
    """Starts uvicorn serving `app` and waits until /healthz answers; stop() it afterwards."""
    server = UvicornServer(port or free_port(), server_env(env), app, extra_args)
    try:
        return server.wait_ready()
    except BaseException:
        server.stop()
        raise


def run_python(code, env=None, timeout=60):
    """Runs Django code in a fresh sync process (like a Celery worker); returns its output."""
    script = "import django; django.setup()\n" + code
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=server_env(env),
                            capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"script failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


class RedisServer:
    """A throwaway redis-server owned by one test, on a unix socket and a TCP port, that
    can be stopped and started again on the same address (never the machine's Redis)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="rt-redis-")
        self.socket = Path(self.dir) / "redis.sock"
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = None

    def start(self):
        from project import embedded_redis

        self.proc = embedded_redis.start(self.socket, port=self.port)
        return self

    def stop(self):
        from project import embedded_redis

        if self.proc is not None:
            embedded_redis.stop(self.proc, self.socket)
            self.proc = None

    def restart(self):
        self.stop()
        return self.start()


def start_redis():
    return RedisServer().start()


# The protocol client over real sockets, where the tests have always imported it from.
from tests.socket_client import Client, ProtocolError, connect_client  # noqa: E402

__all__ = ["APP_WITH_OPEN_KIND", "DEFAULT_APP", "ROOT", "Client", "DaphneServer", "Process",
           "ProtocolError", "RedisServer", "UvicornServer", "connect_client", "database_url",
           "free_port", "register_open_kind", "run_python", "server_env", "start_daphne",
           "start_daphnes", "start_redis", "start_uvicorn"]
