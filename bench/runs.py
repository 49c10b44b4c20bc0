"""Running one row of the set (bench/run_all.py): fresh server process(es), the load
generator in its own process, bounded by its own limits plus a subprocess timeout."""
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager

from bench.matrix import INGEST_ID, MINT
from bench.run_servers import ROOT, start_server

PY = sys.executable
# Seconds a loadgen process may take beyond its own bounds before it is killed.
LOADGEN_SLACK = 90


def flush_redis(url, allowed=(14, 15)):
    """FLUSHDB of a bench db (never any other): stale presence sets, tickets and groups of
    an earlier run would otherwise be part of the next one."""
    import redis

    r = redis.Redis.from_url(url)
    if r.connection_pool.connection_kwargs.get("db") in allowed:
        r.flushdb()
    r.close()


# A key written before each row of ours and looked for after it: gone means something else
# emptied the row's Redis db meanwhile (another process's FLUSHDB on a shared Redis), which
# voids the tickets issued before the clock started: the row's 4401s are not the server's.
CANARY_KEY = "sb:bench:canary"


def plant_canary(url):
    import redis

    with redis.Redis.from_url(url) as r:
        r.set(CANARY_KEY, b"1")


def canary_intact(url):
    import redis

    with redis.Redis.from_url(url) as r:
        return bool(r.exists(CANARY_KEY))


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
        watched = svc.redis_url if entry["target"] == "ours" and entry["redis"] == "single" else None
        if watched:
            plant_canary(watched)
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
        if watched and not canary_intact(watched):
            row["redis_emptied"] = True
            print(f"{entry['id']}: its Redis db was emptied by another process during the run "
                  "(its tickets with it): discard the row", file=sys.stderr, flush=True)
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
