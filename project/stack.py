"""`make run`: supervises the whole site as child processes and stops them together.

Starts the embedded Redis when no REDIS_URL is set, then daphne (or SERVER=uvicorn) on
127.0.0.1:$PORT, a Celery worker and Celery beat.  Ctrl-C or SIGTERM stops every child (TERM, then KILL
after a grace period); if any child dies the rest are stopped too, so nothing lingers.
"""

import os
import signal
import subprocess
import sys
import time

# Seconds children get to finish in-flight work after TERM before they are killed.
STOP_GRACE = 10.0


def web_command(py, port):
    """daphne by default; SERVER=uvicorn runs uvicorn with uvloop instead (faster fan-out
    and a bounded send buffer per socket: see docs/performance.md)."""
    server = os.environ.get("SERVER", "daphne")
    if server == "uvicorn":
        return [py, "-m", "uvicorn", "project.asgi:application", "--host", "127.0.0.1", "--port", port,
                "--loop", "uvloop", "--ws", "websockets-sansio", "--lifespan", "off", "--no-access-log",
                "--log-level", "warning"]
    if server != "daphne":
        raise SystemExit(f"SERVER must be daphne or uvicorn, not {server!r}")
    return [py, "-m", "daphne", "-b", "127.0.0.1", "-p", port, "project.asgi:application"]


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()
    from django.conf import settings

    from project import embedded_redis

    procs = []
    redis_proc = None
    if settings.EMBEDDED_REDIS_SOCKET:
        redis_proc = embedded_redis.start(
            settings.EMBEDDED_REDIS_SOCKET, logfile=settings.VAR_DIR / "redis.log"
        )
        print(f"embedded Redis: {settings.EMBEDDED_REDIS_SOCKET}", flush=True)
    # Children compute the same REDIS_URL (the embedded socket or the given one) themselves.
    env = dict(os.environ)
    parent = os.getppid()
    port = os.environ.get("PORT", "8000")
    py = sys.executable
    commands = {
        "web": web_command(py, port),
        "worker": [py, "-m", "celery", "-A", "project", "worker", "--loglevel", "INFO",
                   "--concurrency", os.environ.get("CELERY_CONCURRENCY", "2")],
        "beat": [py, "-m", "celery", "-A", "project", "beat", "--loglevel", "INFO",
                 "--schedule", str(settings.VAR_DIR / "celerybeat-schedule")],
    }
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        for name, cmd in commands.items():
            procs.append((name, subprocess.Popen(cmd, env=env, start_new_session=True)))
        print(f"Switchboard is running at http://127.0.0.1:{port}/  (Ctrl-C stops it)", flush=True)
        demo = settings.VAR_DIR / "demo-login.txt"
        if demo.exists():
            print(demo.read_text().strip(), flush=True)
        while not stopping:
            if os.getppid() != parent:  # `make` was killed: don't outlive it
                stopping = True
            for name, proc in procs:
                if proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}; stopping the rest", flush=True)
                    stopping = True
            time.sleep(0.2)
    finally:
        print("stopping...", flush=True)
        for _, proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for _, proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if redis_proc:
            embedded_redis.stop(redis_proc, settings.EMBEDDED_REDIS_SOCKET)
    return 0


if __name__ == "__main__":
    sys.exit(main())
