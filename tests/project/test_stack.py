"""The newcomer path with nothing set: `manage.py` commands bring the embedded Redis up
for their duration (sharing one that answers), and `make run` (project/stack.py) leaves
no process behind however it is stopped.  Real processes, real make, real Redis."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from project import embedded_redis
from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent.parent
# Seconds for migrate on a fresh SQLite file or `make run` to answer, on a loaded 2-core
# machine (a cold daphne and Celery worker import Django each).
START_DEADLINE = 180.0
# Seconds the stack may take to stop everything (its own grace is STOP_GRACE, 10 s).
STOP_DEADLINE = 30.0


@pytest.fixture(scope="module")
def var_dir():
    """One var/ for the module (short: unix socket paths are limited to 107 bytes); the
    first test migrates its SQLite database, the later ones reuse it."""
    path = Path(tempfile.mkdtemp(prefix="sb-stack-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def newcomer_env(var_dir, **extra):
    """The environment of a fresh clone: no REDIS_URL, DATABASE_URL or broker, not a test."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("REDIS_URL", "DATABASE_URL", "CELERY_BROKER_URL", "SWITCHBOARD_TESTING")}
    env.update(SWITCHBOARD_VAR_DIR=str(var_dir), DEBUG="1", **extra)
    return env


def manage(var_dir, *args, timeout=START_DEADLINE):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=newcomer_env(var_dir),
                          capture_output=True, text=True, timeout=timeout)


def processes_of(var_dir):
    """Every live process started with this var/: children inherit the environment, and
    redis-server (which overwrites its environment with its title) names the socket."""
    found = []
    for proc in psutil.process_iter(["pid", "status", "cmdline"]):
        try:
            if proc.info["status"] != psutil.STATUS_ZOMBIE and (
                    str(var_dir) in " ".join(proc.info["cmdline"] or ())
                    or proc.environ().get("SWITCHBOARD_VAR_DIR") == str(var_dir)):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def assert_nothing_left(var_dir):
    socket = var_dir / "redis.sock"
    deadline = time.monotonic() + STOP_DEADLINE
    while (left := processes_of(var_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, [" ".join(proc.cmdline()) for proc in left]
    assert not embedded_redis.ping(socket) and not socket.exists()


def test_seed_demo_works_with_nothing_set_and_stops_the_redis_it_started(var_dir):
    """The reported crash: saving the demo user talks to Redis before any server ran."""
    result = manage(var_dir, "migrate", "--noinput", "-v", "0")
    assert result.returncode == 0, result.stderr
    result = manage(var_dir, "seed_demo", "--base-url", "http://example.test")
    assert result.returncode == 0, result.stderr
    assert "demo login: username 'demo'" in result.stdout
    assert "demo room: http://example.test/rooms/lobby/" in result.stdout
    assert "demo feed: http://example.test/feeds/news/" in result.stdout
    assert_nothing_left(var_dir)


def test_a_command_joins_a_running_embedded_redis_and_leaves_it_running(var_dir):
    socket = var_dir / "redis.sock"
    with embedded_redis.shared(socket) as started:  # as `make run` holds it
        assert started
        pid = embedded_redis.redis.Redis(unix_socket_path=str(socket)).info("server")["process_id"]
        result = manage(var_dir, "shell", "-v", "0", "-c", "from django.core.cache import cache; "
                        "cache.set('joined', 1); print(cache.get('joined'))")
        assert result.returncode == 0 and result.stdout.strip() == "1", result.stderr
        again = embedded_redis.redis.Redis(unix_socket_path=str(socket)).info("server")["process_id"]
        assert again == pid
    assert_nothing_left(var_dir)


# Each command counts itself in and waits for the other, so both hold the server at once.
COUNT_IN = """
import time, redis
from django.conf import settings
r = redis.Redis(unix_socket_path=str(settings.EMBEDDED_REDIS_SOCKET))
r.incr("commands")
deadline = time.monotonic() + 60
while int(r.get("commands")) < 2 and time.monotonic() < deadline:
    time.sleep(0.05)
print(int(r.get("commands")), r.info("server")["process_id"])
"""


def test_two_commands_starting_at_once_share_one_redis_and_the_last_stops_it(var_dir):
    commands = [subprocess.Popen([sys.executable, "manage.py", "shell", "-v", "0", "-c", COUNT_IN], cwd=ROOT,
                                 env=newcomer_env(var_dir), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [proc.communicate(timeout=START_DEADLINE) for proc in commands]
    assert [proc.returncode for proc in commands] == [0, 0], [err for _, err in outputs]
    counts_and_pids = {out.strip() for out, _ in outputs}
    assert len(counts_and_pids) == 1 and counts_and_pids.pop().startswith("2 ")
    assert_nothing_left(var_dir)


def start_make_run(var_dir):
    """The real `make run` (its venv taken as made) in its own process group, as a shell
    starts a foreground job; SIGINT not ignored, as in a terminal."""
    log = open(var_dir / "make-run.log", "w")
    env = newcomer_env(var_dir, PORT=str(free_port()), CELERY_CONCURRENCY="1")
    make = subprocess.Popen(["make", "-s", "-o", "venv", "-o", ".venv/.requirements-installed", "run",
                             f"PY={sys.executable}"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    log.close()
    deadline = time.monotonic() + START_DEADLINE
    while "Switchboard is running at" not in (text := (var_dir / "make-run.log").read_text()):
        assert make.poll() is None, f"make run exited with {make.returncode}:\n{text}"
        assert time.monotonic() < deadline, f"make run did not start in time:\n{text}"
        time.sleep(0.2)
    return make, text


# Ctrl-C runs in every `make test`; the two signals to make alone (a real `make run` each,
# about a minute apiece) run with the long tests in `make test-faults`, which CI runs too.
@pytest.mark.parametrize(("target", "sig"), [
    ("group", signal.SIGINT),  # Ctrl-C in a terminal
    pytest.param("make", signal.SIGINT,  # make alone: it waits for its children without telling them
                 marks=pytest.mark.faults),
    pytest.param("make", signal.SIGTERM, marks=pytest.mark.faults),  # make alone: it forwards TERM
])
def test_make_run_leaves_no_process_behind(var_dir, target, sig):
    make, text = start_make_run(var_dir)
    assert text.count("demo login:") == 1
    assert "demo room: http://127.0.0.1:" in text and "/rooms/lobby/" in text
    assert "demo feed: http://127.0.0.1:" in text and "/feeds/news/" in text
    names = " ".join(" ".join(proc.cmdline()) for proc in processes_of(var_dir))
    for part in ("redis-server", "daphne", "celery -A project worker", "celery -A project beat"):
        assert part in names
    if target == "group":
        os.killpg(make.pid, sig)
    else:
        os.kill(make.pid, sig)
    try:
        make.wait(STOP_DEADLINE)
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
    assert_nothing_left(var_dir)
