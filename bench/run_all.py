"""`make bench`: the standard benchmark set, Switchboard beside the Channels tutorial
(baseline) and a bare `websockets` broadcast server (reference), with the same load
generator, then the generated part of docs/performance.md is rewritten.

    .venv/bin/python -m bench.run_all                 # the whole set (about 12 minutes)
    .venv/bin/python -m bench.run_all --only fanout-100 idle-10k --no-docs
    .venv/bin/python -m bench.run_all --quick --no-docs   # tiny sizes: checks the tooling

Services: PostgreSQL at DATABASE_URL (default postgres://postgres@127.0.0.1:5432/bench; the
database is created if missing and migrated) and Redis at REDIS_URL (default db 14 of the
local Redis; the baseline uses db 15).  When either is not reachable it falls back to SQLite
in a temp dir / an embedded redis-server on a unix socket, and says so in the report.

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
from contextlib import ExitStack, contextmanager
from urllib.parse import urlsplit, urlunsplit

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import report
from bench.run_servers import ROOT, start_server

PY = sys.executable
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
BASELINE_REDIS_DB = 15
# Seconds a loadgen process may take beyond its own bounds before it is killed.
LOADGEN_SLACK = 90


def run(run_id, target, server, scenario, clients, *opts, cpus=None, servers=1, note="",
        env=None, redis="single"):
    """One row of the set.  env: extra server environment (documented settings only, e.g.
    a raised per-socket rate limit); redis: "single" or "cluster" (a 3-shard Redis Cluster
    started for the run)."""
    return dict(id=run_id, target=target, server=server, scenario=scenario, clients=clients,
                opts=list(opts), cpus=cpus, servers=servers, note=note, env=env or {}, redis=redis)


FAN = ("--duration", "8", "--drain", "8")
LAT1 = ("--rate", "1", "--duration", "8", "--drain", "5")
LAT10 = ("--rate", "10", "--duration", "8", "--drain", "5")
CURSOR = ("--rate", "10", "--duration", "6", "--drain", "5", "--group-size", "20")
# 300 durable publishes to 1,000 subscribers: 300,000 deliveries; under daphne a process
# pauses writing while it queues a burst (see docs/performance.md), hence --quiet 10.
SYNC = ("--publisher", "sync", "--messages", "300", "--duration", "10", "--drain", "40",
        "--quiet", "10")
IDLE = ("--duration", "3", "--open-timeout", "150", "--concurrency", "100")
CONNECT = ("--duration", "10", "--concurrency", "50")
# ours: every connection needs a ticket; they are written straight to Redis (MINT) the way
# the ticket endpoint does, so a 1,000-subscriber run doesn't spend 20 s on ticket requests
# (in the connect storm: all issued before the clock starts).  ours-connect-http-1000 fetches
# each over HTTP inside the storm instead.
MINT = "--mint-tickets"
# chat-rooms: 100 rooms x 10 people (9 listening, 1 sending chat.send on a schedule), 5 s of
# sending at the total rate, then a short drain (what had not arrived by then is reported).
ROOMS = ("--duration", "5", "--drain", "5", "--rooms", "100", "--room-size", "10")
# chat-window: senders into one room of 1,000 listeners, each keeping 20 sends in flight
# (a new send as soon as one is answered) for 5 s.
WINDOW = ("--duration", "5", "--drain", "15", "--window", "20")
# The one bench condition of the window rows: a socket may send 50 frames/s (burst 100);
# a sender there sends as fast as its answers come back, so the documented settings are
# raised for the server, not bypassed by a bench-only path.
FAST_SENDER = {"REALTIME_RATE_PER_SECOND": "100000", "REALTIME_RATE_BURST": "100000"}


def chat_rows(prefix, target, server, rates=(100, 200, 500, 1000), **kw):
    return [run(f"{prefix}-chat-rooms-{r}", target, server, "chat-rooms", 1000, "--rate", str(r),
                *ROOMS, *((MINT,) if target == "ours" else ()), **kw) for r in rates]


def window_row(prefix, target, server, senders):
    return run(f"{prefix}-chat-1000x{senders}", target, server, "chat-window", 1000, *WINDOW,
               "--senders", str(senders), *((MINT,) if target == "ours" else ()),
               env=FAST_SENDER if target == "ours" else None,
               note=f"{senders} sender(s), 20 sends in flight each")

# The standard set, most important first (a run that would start after --budget is
# skipped and reported).  ids are stable: docs/performance.md and --only use them.
MATRIX = [
    # what users do: many small rooms, every message stored (issue 18)
    *chat_rows("ours", "ours", "ours"),
    *chat_rows("uvicorn", "ours", "ours-uvicorn"),
    *chat_rows("reference", "reference", "reference", rates=(100, 500, 1000)),
    *chat_rows("baseline", "baseline", "baseline", rates=(100, 500)),
    *chat_rows("scale-chat-2proc", "ours", "ours", rates=(500,), servers=2),
    # one big room: 1,000 listeners, 1 or 10 senders as fast as answers come back
    window_row("ours", "ours", "ours", 1),
    window_row("uvicorn", "ours", "ours-uvicorn", 1),
    window_row("baseline", "baseline", "baseline", 1),
    window_row("reference", "reference", "reference", 1),
    window_row("ours", "ours", "ours", 10),
    window_row("uvicorn", "ours", "ours-uvicorn", 10),
    window_row("reference", "reference", "reference", 10),
    # 1,000 listeners x 1 chat.send a second (the tutorial's and the reference's
    # latency-1000x1 rows are driven the same way: a client connection sends)
    run("ours-chat-latency-1000x1", "ours", "ours", "latency", 1000, *LAT1, "--publisher",
        "socket", MINT, note="chat.send over a socket"),
    run("uvicorn-chat-latency-1000x1", "ours", "ours-uvicorn", "latency", 1000, *LAT1,
        "--publisher", "socket", MINT, note="chat.send over a socket"),
    run("ours-fanout-100", "ours", "ours", "fanout", 100, "--messages", "1000", *FAN, MINT),
    run("ours-fanout-1000", "ours", "ours", "fanout", 1000, "--messages", "100", *FAN, MINT),
    run("ours-latency-1000x1", "ours", "ours", "latency", 1000, *LAT1, MINT),
    run("ours-latency-100x10", "ours", "ours", "latency", 100, *LAT10, MINT),
    run("ours-connect-1000", "ours", "ours", "connect", 1000, *CONNECT, MINT,
        note="ticket issued beforehand; connect (ticket redeemed) + subscribe"),
    run("ours-sync-1000", "ours", "ours", "fanout", 1000, *SYNC, MINT, note="sync publisher"),
    run("ours-idle-10k", "ours", "ours", "idle", 10_000, *IDLE, MINT),
    run("baseline-fanout-100", "baseline", "baseline", "fanout", 100, "--messages", "1000", *FAN),
    run("baseline-fanout-1000", "baseline", "baseline", "fanout", 1000, "--messages", "100", *FAN),
    run("baseline-latency-1000x1", "baseline", "baseline", "latency", 1000, *LAT1),
    run("baseline-latency-100x10", "baseline", "baseline", "latency", 100, *LAT10),
    run("baseline-idle-1000", "baseline", "baseline", "idle", 1000, *IDLE),
    run("baseline-connect-1000", "baseline", "baseline", "connect", 1000, *CONNECT),
    run("reference-fanout-100", "reference", "reference", "fanout", 100, "--messages", "1000", *FAN),
    run("reference-fanout-1000", "reference", "reference", "fanout", 1000, "--messages", "100",
        *FAN),
    run("reference-latency-1000x1", "reference", "reference", "latency", 1000, *LAT1),
    run("reference-latency-100x10", "reference", "reference", "latency", 100, *LAT10),
    run("reference-idle-10k", "reference", "reference", "idle", 10_000, *IDLE),
    run("reference-connect-1000", "reference", "reference", "connect", 1000, *CONNECT),
    # scale-out: 1 vs 2 processes, servers pinned to CPU 0, load generator to CPU 1
    # (400 messages: CPU per delivery over ~6 s; 100 gave ±25 % between runs)
    run("scale-1proc", "ours", "ours", "fanout", 1000, "--messages", "400", *FAN, MINT, cpus="0"),
    run("scale-2proc", "ours", "ours", "fanout", 1000, "--messages", "400", *FAN, MINT, cpus="0",
        servers=2),
    # the same on a 3-shard Redis Cluster (issue 20): sharded pub/sub, started for the run
    run("scale-cluster-2proc", "ours", "ours", "fanout", 1000, "--messages", "400", *FAN, MINT,
        cpus="0", servers=2, redis="cluster", note="Redis Cluster, 3 shards"),
    # ours under uvicorn + uvloop
    run("uvicorn-fanout-100", "ours", "ours-uvicorn", "fanout", 100, "--messages", "1000", *FAN,
        MINT),
    run("uvicorn-fanout-1000", "ours", "ours-uvicorn", "fanout", 1000, "--messages", "100", *FAN,
        MINT),
    run("uvicorn-latency-1000x1", "ours", "ours-uvicorn", "latency", 1000, *LAT1, MINT),
    run("uvicorn-latency-100x10", "ours", "ours-uvicorn", "latency", 100, *LAT10, MINT),
    run("uvicorn-connect-1000", "ours", "ours-uvicorn", "connect", 1000, *CONNECT, MINT,
        note="ticket issued beforehand; connect (ticket redeemed) + subscribe"),
    run("uvicorn-idle-10k", "ours", "ours-uvicorn", "idle", 10_000, *IDLE, MINT),
    # ephemeral moves on boards of 20, and the tutorial's sync group_send
    run("ours-cursor-100", "ours", "ours", "cursor-storm", 100, *CURSOR, MINT),
    run("baseline-cursor-100", "baseline", "baseline", "cursor-storm", 100, *CURSOR),
    run("reference-cursor-100", "reference", "reference", "cursor-storm", 100, *CURSOR),
    run("baseline-sync-1000", "baseline", "baseline", "fanout", 1000, "--publisher", "sync",
        "--messages", "300", "--duration", "10", "--drain", "10", note="async_to_sync(group_send)"),
    run("ours-connect-http-1000", "ours", "ours", "connect", 1000, *CONNECT,
        note="ticket over HTTP (POST /api/auth/ticket/) + connect + subscribe"),
    # a room of 1,000 different users reconnecting: presence joins of a crowd
    run("ours-connect-crowd-1000", "ours", "ours", "connect", 1000, *CONNECT, MINT,
        "--distinct-users", note="1,000 different users: ticket + connect + subscribe"),
    run("uvicorn-connect-crowd-1000", "ours", "ours-uvicorn", "connect", 1000, *CONNECT, MINT,
        "--distinct-users", note="1,000 different users: ticket + connect + subscribe"),
    # a browser's connect: its session cookie (logged in before the clock starts)
    run("ours-connect-session-1000", "ours", "ours", "connect", 1000, *CONNECT, "--session",
        note="session cookie, as a browser + connect + subscribe"),
    run("uvicorn-connect-session-1000", "ours", "ours-uvicorn", "connect", 1000, *CONNECT,
        "--session", note="session cookie, as a browser + connect + subscribe"),
]
INGEST_ID = "ours-ingest-10k"


def quick(entry):
    """--quick: the same runs at toy sizes (a tooling check, not a measurement)."""
    e = dict(entry, clients=min(entry["clients"], 20), opts=list(entry["opts"]))
    o = e["opts"]
    # chat rows: 3 rooms of 3 at 30 msg/s, or 20 listeners and at most 2 senders
    for flag, cap in (("--messages", "20"), ("--duration", "2"), ("--drain", "3"),
                      ("--rooms", "3"), ("--room-size", "3"), ("--senders", "2")):
        if flag in o:
            o[o.index(flag) + 1] = str(min(int(float(o[o.index(flag) + 1])), int(cap)))
    if e["scenario"] == "chat-rooms":
        o[o.index("--rate") + 1] = "30"
    if "--duration" not in o:
        o += ["--duration", "2"]
    return e


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
        import redis

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
            return f"unix://{sock}?db=14"

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


def flush_redis(url, allowed=(14, 15)):
    """FLUSHDB of a bench db (never any other): stale presence sets, tickets and groups of
    an earlier run would otherwise be part of the next one."""
    import redis

    r = redis.Redis.from_url(url)
    if r.connection_pool.connection_kwargs.get("db") in allowed:
        r.flushdb()
    r.close()


# --- running ---------------------------------------------------------------------------------
def loadgen_cmd(entry, urls, pids, svc, redis_url=None):
    opts = []
    for o in entry["opts"]:
        opts += [MINT, redis_url or svc.redis_url, "--mint-user", str(svc.user_id)] \
            if o == MINT else [o]
    cmd = [PY, "-m", "bench.loadgen", "--target", entry["target"], "--url", ",".join(urls),
           "--scenario", entry["scenario"], "--clients", str(entry["clients"]), *opts]
    if pids:
        cmd += ["--server-pid", ",".join(str(p) for p in pids)]
    if entry["target"] == "baseline":
        cmd += ["--redis-url", svc.baseline_redis()]
    if entry["cpus"] is not None:  # the load generator (and its publisher) on the other core
        cmd = ["taskset", "-c", other_cpus(entry["cpus"]), *cmd]
    return cmd


def other_cpus(cpus):
    n = os.cpu_count() or 1
    taken = {int(c) for c in str(cpus).split(",")}
    rest = [str(c) for c in range(n) if c not in taken]
    return ",".join(rest) or str(cpus)


def timeout_of(entry):
    o = entry["opts"]

    def opt(flag, default):
        return float(o[o.index(flag) + 1]) if flag in o else default

    connect = entry["clients"] / 100.0  # generous: ~100 connections/s at worst
    return opt("--duration", 10) + opt("--drain", 10) + connect + LOADGEN_SLACK


def run_entry(entry, svc, log):
    env = dict(os.environ, **svc.env()) if entry["target"] == "ours" else dict(os.environ)
    if entry["target"] == "ours":
        flush_redis(svc.redis_url)
    elif entry["target"] == "baseline":
        flush_redis(svc.baseline_redis())
    with ExitStack() as stack:
        server_env, mint_url = {**svc.env(), **entry["env"]}, None
        if entry["redis"] == "cluster":
            cluster = stack.enter_context(start_cluster(svc))
            server_env.update(cluster)
            env.update(cluster)  # the sync publisher is a Switchboard process too
            mint_url = "redis+cluster://" + cluster["REDIS_CLUSTER_NODES"].split(",")[0]
        servers = []
        for _ in range(entry["servers"]):
            kw = dict(env=server_env) if entry["target"] == "ours" else {}
            redis_url = svc.baseline_redis() if entry["target"] == "baseline" else svc.redis_url
            servers.append(stack.enter_context(start_server(
                entry["server"], redis_url=redis_url, cpus=entry["cpus"], log=log, timeout=60, **kw)))
        time.sleep(0.5)
        cmd = loadgen_cmd(entry, [s.url for s in servers], [s.pid for s in servers], svc, mint_url)
        shown = " ".join(c.replace(PY, "$PY") for c in cmd)
        print(f"$ {shown}", file=sys.stderr, flush=True)
        t0 = time.time()
        try:
            p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                               timeout=timeout_of(entry))
            lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
            row = json.loads(lines[-1]) if lines else {"error": f"rc={p.returncode} {p.stderr[-400:]}"}
        except subprocess.TimeoutExpired:
            row = {"error": "timeout"}
    row.update(id=entry["id"], server=entry["server"], servers=entry["servers"], cpus=entry["cpus"],
               note=entry["note"], wall_s=round(time.time() - t0, 1), command=shown,
               at=time.strftime("%Y-%m-%dT%H:%M:%S"))
    row.setdefault("target", entry["target"])
    row.setdefault("scenario", entry["scenario"])
    row.setdefault("clients", entry["clients"])
    return row


@contextmanager
def start_cluster(svc):
    """A 3-shard Redis Cluster of the system redis-server 7 on private ports (the tests'
    tests/redis_topologies.py), for one run; yields the servers' extra environment.
    Celery has no Cluster transport, so the broker is RabbitMQ (nothing is queued in
    these runs; the settings require a broker)."""
    from tests.redis_topologies import cluster_setup

    with tempfile.TemporaryDirectory(prefix="cluster-", dir=svc.dir) as directory, \
            cluster_setup(directory, shards=3) as topo:
        yield {**topo.env(), "CELERY_BROKER_URL": os.environ.get(
            "BENCH_CLUSTER_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")}


def run_ingest(svc, quick_mode):
    """bench/ingest.py (the feeds' own command): its own stack, one Celery worker."""
    cmd = [PY, "-m", "bench.ingest", "--workers", "1"]
    db = svc.fresh_database("bench_ingest")
    if db:
        cmd += ["--database-url", db]
    if quick_mode:
        cmd += ["--events", "200", "--batch-size", "100"]
    shown = " ".join(c.replace(PY, "$PY") for c in cmd)
    print(f"$ {shown}", file=sys.stderr, flush=True)
    t0 = time.time()
    try:
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=240)
        lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
        row = json.loads(lines[-1]) if lines else {"error": f"rc={p.returncode} {p.stderr[-400:]}"}
    except subprocess.TimeoutExpired:
        row = {"error": "timeout"}
    row.update(id=INGEST_ID, target="ours", scenario="ingest", command=shown,
               wall_s=round(time.time() - t0, 1), at=time.strftime("%Y-%m-%dT%H:%M:%S"))
    return row


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
    # 660: the chat rows joined the set (issue 18); with the last run and ingest ~12 minutes
    p.add_argument("--budget", type=float, default=660.0,
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
                       os.environ.get("REDIS_URL") or DEFAULT_REDIS, stack)
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
