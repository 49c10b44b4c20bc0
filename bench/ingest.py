"""Ingest benchmark: events per second from `POST /api/events/` to delivery at a subscribed
client.  10,000 events (by default) are posted as two batches of 5,000 to a fresh feed; the
clock runs from the first POST until a client subscribed to `feed:<slug>` has received every
item.  Prints one JSON line.

Self-contained (default): starts its own embedded Redis, SQLite database (or the
PostgreSQL database given with --database-url, created if missing and migrated), daphne
and one Celery worker in a temp directory, with production settings (DEBUG off), and stops
them afterwards:

    .venv/bin/python -m bench.ingest
    .venv/bin/python -m bench.ingest --workers 2 \
        --database-url postgres://postgres@127.0.0.1:5432/bench_ingest

Against a running site (its worker(s) must be up); the token's user needs
feeds.ingest_events and the feed must exist (readable by that user):

    .venv/bin/python -m bench.ingest --url http://127.0.0.1:8000 --token TOKEN --feed news
"""

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
# Seconds a process may take to come up, and the whole delivery to finish.
START_TIMEOUT = 60.0
DELIVERY_TIMEOUT = 300.0

SETUP = """
import django; django.setup()
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from accounts.models import User
from feeds.models import Feed
user, _ = User.objects.get_or_create(username="bench-ingest")
user.user_permissions.add(Permission.objects.get(codename="ingest_events", content_type__app_label="feeds"))
Feed.objects.get_or_create(slug=%(slug)r, defaults={"title": "Bench", "is_public": True})
print(Token.objects.get_or_create(user=user)[0].key)
"""


def free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def create_database(url):
    """Creates the PostgreSQL database `url` names when it does not exist yet."""
    if not url.startswith("postgres"):
        return
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def http(method, url, body=None, token=None, timeout=120):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


class Stack:
    """Embedded Redis + database + daphne + Celery worker(s) in a temp dir."""

    def __init__(self, database_url=None, workers=1):
        self.dir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
        self.database_url = database_url or f"sqlite:///{self.dir / 'db.sqlite3'}"
        self.workers = workers
        self.procs = []
        self.logs = []
        self.redis = None

    def env(self):
        from project.env import celery_url

        redis_url = f"unix://{self.dir / 'redis.sock'}"
        return {**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings", "PYTHONUNBUFFERED": "1",
                "SWITCHBOARD_VAR_DIR": str(self.dir), "DATABASE_URL": self.database_url,
                "REDIS_URL": redis_url, "CELERY_BROKER_URL": celery_url(redis_url), "DEBUG": "0",
                "SECRET_KEY": self.secret, "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "SECURE_SSL_REDIRECT": "0", "LOG_LEVEL": "WARNING", "REST_WRITE_RATE": "100000/min"}

    def start(self, slug):
        from project import embedded_redis

        self.secret = secrets.token_urlsafe(40)
        self.redis = embedded_redis.start(self.dir / "redis.sock")
        env = self.env()
        create_database(self.database_url)
        subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
        token = subprocess.run([PY, "-c", SETUP % {"slug": slug}], cwd=ROOT, env=env, check=True,
                               capture_output=True, text=True).stdout.strip().splitlines()[-1]
        self.port = free_port()
        self._spawn([PY, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "project.asgi:application"],
                    env, "daphne")
        for n in range(self.workers):
            self._spawn([PY, "-m", "celery", "-A", "project", "worker", "-P", "prefork", "-c", "1",
                         "--without-mingle", "--without-gossip", "-l", "info", "-n", f"bench{n}@%h"],
                        env, f"worker{n}")
        self.url = f"http://127.0.0.1:{self.port}"
        self._wait_ready()
        return token

    def _spawn(self, args, env, name):
        log = open(self.dir / f"{name}.log", "wb")
        self.logs.append(log)
        self.procs.append((name, subprocess.Popen(args, cwd=ROOT, env=env, stdout=log,
                                                  stderr=subprocess.STDOUT, start_new_session=True)))

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        pending = {name for name, _ in self.procs}
        while pending and time.monotonic() < deadline:
            for name, proc in self.procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited:\n{(self.dir / f'{name}.log').read_text()[-3000:]}")
            for name in list(pending):
                if name == "daphne":
                    with contextlib.suppress(OSError):
                        with urllib.request.urlopen(self.url + "/healthz", timeout=1):
                            pending.discard(name)
                elif " ready." in (self.dir / f"{name}.log").read_text(errors="replace"):
                    pending.discard(name)
            time.sleep(0.1)
        if pending:
            raise RuntimeError(f"not ready in {START_TIMEOUT}s: {sorted(pending)}")

    def stop(self):
        import signal

        for _, proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for _, proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        for log in self.logs:
            log.close()
        if self.redis is not None:
            from project import embedded_redis

            embedded_redis.stop(self.redis, self.dir / "redis.sock")
        shutil.rmtree(self.dir, ignore_errors=True)


def make_batches(slug, total, batch_size, run_id):
    now = datetime.now(UTC).isoformat()
    events = [{"id": f"{run_id}-{n}", "feed": slug, "kind": "bench", "title": f"Item {n}",
               "body": "x" * 200, "url": f"https://example.com/items/{n}", "data": {"n": n},
               "occurred_at": now, "version": 1} for n in range(total)]
    return [events[i:i + batch_size] for i in range(0, total, batch_size)]


async def measure(url, token, slug, total, batch_size):
    import websockets

    run_id = secrets.token_hex(4)
    batches = make_batches(slug, total, batch_size, run_id)
    status, body = await asyncio.to_thread(http, "POST", url + "/api/auth/ticket/", {}, token)
    if status != 200:
        raise RuntimeError(f"ticket: {status} {body}")
    ws_url = url.replace("http", "ws", 1) + f"/ws/?ticket={body['ticket']}"
    async with websockets.connect(ws_url, max_size=2**24, max_queue=None) as ws:
        await ws.send(json.dumps({"action": "subscribe", "request_id": "s", "topic": f"feed:{slug}"}))
        while True:
            frame = json.loads(await ws.recv())
            if frame.get("request_id") == "s":
                if frame["type"] != "reply":
                    raise RuntimeError(f"subscribe: {frame}")
                break
        seen, frames, first = set(), 0, None
        posts = []
        start = time.perf_counter()

        async def post_all():
            for batch in batches:
                t = time.perf_counter()
                code, answer = await asyncio.to_thread(http, "POST", url + "/api/events/", {"events": batch},
                                                       token)
                if code != 202:
                    raise RuntimeError(f"POST /api/events/: {code} {answer}")
                posts.append({"batch": answer["batch"], "seconds": round(time.perf_counter() - t, 3)})

        poster = asyncio.ensure_future(post_all())
        deadline = start + DELIVERY_TIMEOUT
        while len(seen) < total:
            frame = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.perf_counter()))
            if frame.get("type") != "event" or frame.get("event") not in ("feed.item", "feed.items"):
                continue
            frames += 1
            if first is None:
                first = time.perf_counter() - start
            items = frame["data"]["items"] if frame["event"] == "feed.items" else [frame["data"]["item"]]
            seen.update(i["external_id"] for i in items if i["external_id"].startswith(run_id))
        elapsed = time.perf_counter() - start
        await poster
    return {"seconds": round(elapsed, 3), "events_per_second": round(total / elapsed, 1),
            "first_delivery_seconds": round(first, 3), "frames": frames, "posts": posts}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running site (else a stack is started here)")
    parser.add_argument("--token", help="API token of a user with feeds.ingest_events (with --url)")
    parser.add_argument("--feed", help="feed slug (with --url; default: a fresh bench feed)")
    parser.add_argument("--database-url", help="database for the self-started stack (default SQLite)")
    parser.add_argument("--workers", type=int, default=1, help="Celery workers of the self-started stack")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=5_000)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    stack = None
    try:
        if args.url:
            if not (args.token and args.feed):
                parser.error("--url needs --token and --feed")
            url, token, slug = args.url.rstrip("/"), args.token, args.feed
        else:
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
            slug = f"bench-{secrets.token_hex(3)}"
            stack = Stack(args.database_url, args.workers)
            token, url = stack.start(slug), None
            url = stack.url
        result = asyncio.run(measure(url, token, slug, args.events, args.batch_size))
    finally:
        if stack is not None:
            stack.stop()
    database = (args.database_url or "sqlite").split(":", 1)[0] if not args.url else "site"
    print(json.dumps({"bench": "ingest", "events": args.events, "batch_size": args.batch_size,
                      "batches": -(-args.events // args.batch_size), "target": args.url or "self-started",
                      "database": database, "workers": args.workers if not args.url else None, **result}))


if __name__ == "__main__":
    main()
