"""`make bench`: the standard benchmark set, Switchboard beside the Channels tutorial
(baseline) and a bare `websockets` broadcast server (reference), with the same load
generator, then the generated part of docs/performance.md is rewritten.

    .venv/bin/python -m bench.run_all                 # the whole set (about 12 minutes)
    .venv/bin/python -m bench.run_all --only fanout-100 idle-10k --no-docs
    .venv/bin/python -m bench.run_all --quick --no-docs   # tiny sizes: checks the tooling

Services: PostgreSQL at DATABASE_URL (default postgres://postgres@127.0.0.1:5432/bench; the
database is created if missing and migrated) and Redis at REDIS_URL (the baseline uses db 15
of the same server).  With REDIS_URL unset the set starts a redis-server of its own on a
free loopback port (db 14), not the machine's shared one: any other process may empty a
shared db mid-run, and the connect storms' 4401s were their pre-issued tickets gone from it
(a row of ours whose db was emptied meanwhile is marked redis_emptied: bench/runs.py).
When either is not reachable it falls back to SQLite in a temp dir / an embedded
redis-server on a unix socket, and says so in the report.

Every run gets a fresh server process (memory and caches of one run don't leak into the
next) and is bounded by the load generator's own limits plus a subprocess timeout.
"""
import argparse
import json
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from urllib.parse import urlsplit, urlunsplit

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import report
from bench.matrix import FAST_SENDER, INGEST_ID, MATRIX, quick  # noqa: F401 (FAST_SENDER: tests)
from bench.run_servers import ROOT, free_port
from bench.runs import run_entry, run_ingest

PY = sys.executable
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/bench"
# The db of Switchboard's keys on whichever Redis the set uses (the baseline: 15).
BENCH_REDIS_DB = 14
BASELINE_REDIS_DB = 15

# --- services ------------------------------------------------------------------------------
class Services:
    """PostgreSQL + Redis for Switchboard (or the SQLite / embedded-Redis fallbacks)."""

    def __init__(self, database_url, redis_url, stack):
        self.dir = tempfile.mkdtemp(prefix="sb-bench-")
        stack.callback(shutil.rmtree, self.dir, True)
        self.notes = []
        self.redis_url = self._redis(redis_url, stack)
        self.database_url = self._database(database_url)
        self.secret = secrets.token_urlsafe(40)

    def _redis(self, url, stack):
        """The Redis of the set: REDIS_URL when set, else a private one (module docstring)."""
        import redis

        if not url:
            return self._private_redis(stack)
        try:
            redis.Redis.from_url(url, socket_timeout=2).ping()
            return url
        except Exception as exc:
            from project import embedded_redis

            sock = os.path.join(self.dir, "redis.sock")
            proc = embedded_redis.start(sock)
            stack.callback(embedded_redis.stop, proc, sock)
            self.notes.append(f"Redis at {url} unreachable ({type(exc).__name__}): embedded "
                              "redis-server on a unix socket")
            return f"unix://{sock}?db={BENCH_REDIS_DB}"

    def _private_redis(self, stack):
        """A redis-server of the set's own, on TCP as a deployment's Redis is (the embedded
        binary, nothing persisted); stopped when the set ends."""
        from project import embedded_redis

        port = free_port()
        sock = os.path.join(self.dir, "redis.sock")
        proc = embedded_redis.start(sock, port=port)
        stack.callback(embedded_redis.stop, proc, sock)
        return f"redis://127.0.0.1:{port}/{BENCH_REDIS_DB}"

    def baseline_redis(self):
        """The same Redis server, the baseline's own db."""
        parts = urlsplit(self.redis_url)
        if parts.scheme == "unix":  # (urlunsplit would drop the empty netloc's "//")
            return f"unix://{parts.path}?db={BASELINE_REDIS_DB}"
        return urlunsplit(parts._replace(path=f"/{BASELINE_REDIS_DB}"))

    def _database(self, url):
        if not url.startswith("postgres"):
            return url
        import psycopg

        parts = urlsplit(url)
        name = parts.path.lstrip("/") or "bench"
        admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
        try:
            with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
                if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                    conn.execute(f'CREATE DATABASE "{name}"')
            return url
        except Exception as exc:
            self.notes.append(f"PostgreSQL at {parts.hostname}:{parts.port} unreachable "
                              f"({type(exc).__name__}): SQLite instead")
            return f"sqlite:///{os.path.join(self.dir, 'bench.sqlite3')}"

    def fresh_database(self, name):
        """A new empty PostgreSQL database `name` on the same server (for bench/ingest.py)."""
        if not self.database_url.startswith("postgres"):
            return None
        import psycopg

        parts = urlsplit(self.database_url)
        admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return urlunsplit(parts._replace(path=f"/{name}"))

    def env(self):
        """Environment of Switchboard's server processes and of the sync publisher."""
        return {"DJANGO_SETTINGS_MODULE": "project.settings", "DEBUG": "0",
                "SECRET_KEY": self.secret, "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "SECURE_SSL_REDIRECT": "0", "LOG_LEVEL": "WARNING",
                # Every connection fetches a ticket (a REST POST) as the bench user.
                "REST_WRITE_RATE": "100000000/min",
                "DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url,
                "CELERY_BROKER_URL": self.redis_url.replace("unix://", "redis+socket://"),
                "SWITCHBOARD_VAR_DIR": self.dir, "PYTHONPATH": ROOT}

    def prepare(self):
        env = dict(os.environ, **self.env())
        subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env,
                       check=True, timeout=300)
        # DEBUG=0 serves hashed static names: the log-in page (--session runs) needs them.
        subprocess.run([PY, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env,
                       check=True, timeout=300)
        out = subprocess.run([PY, "-m", "bench.setup_ours", "--boards", "100"], cwd=ROOT, env=env, check=True,
                             capture_output=True, text=True, timeout=120).stdout
        return json.loads(out.strip().splitlines()[-1])


def machine():
    import psutil

    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    load = os.getloadavg()
    return {"cpus": os.cpu_count(), "cpu": cpu, "mem_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "kernel": platform.release(),
            "load_before": [round(x, 2) for x in load]}


def main(argv=None):
    p = argparse.ArgumentParser(description="the standard benchmark set (make bench)")
    p.add_argument("--only", nargs="+", help="run ids (or prefixes) to run, e.g. ours-fanout baseline-")
    p.add_argument("--skip-ingest", action="store_true")
    p.add_argument("--quick", action="store_true", help="toy sizes: a check of the tooling")
    p.add_argument("--no-docs", action="store_true", help="don't rewrite docs/performance.md")
    p.add_argument("--out", default=os.path.join(ROOT, "bench", "results",
                                                 time.strftime("run-%Y%m%d-%H%M%S.jsonl")))
    p.add_argument("--update", metavar="RESULTS_JSONL",
                   help="re-run only the --only runs, replace them in this earlier result file's "
                        "rows and rewrite the docs from the merged rows (marked as re-runs)")
    # 900: the whole set took 663 s on 2026-12-02 (a 2-core machine) and the budget of 660 s
    # skipped its last five rows; the margin covers a slower machine without running forever.
    p.add_argument("--budget", type=float, default=900.0,
                   help="seconds; runs that would start after this are skipped (reported)")
    args = p.parse_args(argv)

    started = time.time()
    entries = [e for e in MATRIX if not args.only or any(e["id"].startswith(o) for o in args.only)]
    want_ingest = not args.skip_ingest and (not args.only or any(INGEST_ID.startswith(o)
                                                                for o in args.only))
    if args.quick:
        entries = [quick(e) for e in entries]
    if args.update:
        args.out = args.update
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    info = machine()
    rows = []
    with ExitStack() as stack, open(args.out, "a") as out:
        svc = Services(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE,
                       os.environ.get("REDIS_URL"), stack)
        log = os.path.join(svc.dir, "servers.log")
        prep = svc.prepare()
        svc.user_id = prep["user_id"]
        print(f"services ready in {time.time() - started:.1f}s: db={svc.database_url} "
              f"redis={svc.redis_url} {svc.notes}", file=sys.stderr, flush=True)
        todo = [("entry", e) for e in entries] + ([("ingest", None)] if want_ingest else [])
        for kind, entry in todo:
            if time.time() - started > args.budget:
                row = {"id": entry["id"] if entry else INGEST_ID, "error": "skipped: time budget"}
            elif kind == "ingest":
                row = run_ingest(svc, args.quick)
            else:
                row = run_entry(entry, svc, log)
            rows.append(row)
            out.write(json.dumps(row) + "\n")
            out.flush()
            print(json.dumps({k: row.get(k) for k in report.BRIEF if k in row}), flush=True)
        errors = _tail(log)
    info.update(total_s=round(time.time() - started, 1), notes=svc.notes, database=_scheme(svc.database_url),
                redis=_scheme(svc.redis_url), bench_user=prep.get("user_id"), quick=args.quick,
                load_after=[round(x, 2) for x in os.getloadavg()],
                date=time.strftime("%Y-%m-%d %H:%M %Z"), results=os.path.relpath(args.out, ROOT))
    if errors:
        print("server log tail:\n" + errors, file=sys.stderr)
    if args.update:
        rows = merge(args.update, rows, info)
    md = report.render(rows, info)
    print(md)
    if not args.no_docs and not args.quick and (not args.only or args.update):
        report.rewrite_docs(md)
        print("docs/performance.md rewritten", file=sys.stderr)
    print(f"total {info['total_s']} s", file=sys.stderr)


def merge(path, new_rows, info):
    """Rows of an earlier full run with the re-run ones replaced (the file has both: the
    last row of an id wins); info keeps the first run's date and notes the re-runs."""
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    original, seen = [], set()
    for row in rows:  # the full run: rows until an id repeats
        if row.get("id") in seen:
            break
        seen.add(row.get("id"))
        original.append(row)
    fresh = {r.get("id") for r in rows[len(original):]} | {r["id"] for r in new_rows}
    stamps = [time.mktime(time.strptime(r["at"], "%Y-%m-%dT%H:%M:%S")) for r in original if r.get("at")]
    if stamps:
        start = min(stamps) - (original[0].get("wall_s") or 0)
        info["date"] = time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(start))
        info["total_s"] = round(max(stamps) - start, 1)
    if fresh:
        info["date"] += f" (re-run afterwards: {', '.join(sorted(fresh))})"
    latest = {}
    for row in rows:
        latest[row.get("id")] = row
    return list(latest.values())


def _scheme(url):
    return url.split(":", 1)[0]


def _tail(path, n=4000):
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except OSError:
        return ""
    # The exception lines themselves (not "Traceback" headers), deduplicated.
    bad = [ln for ln in text.splitlines()
           if "ERROR" in ln or re.match(r"^[\w.]+(Error|Exception|Timeout)\b", ln)]
    bad = list(dict.fromkeys(bad))
    return "\n".join(bad[-20:])[-n:]


if __name__ == "__main__":
    main()
