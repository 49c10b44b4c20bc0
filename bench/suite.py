"""Drive a benchmark matrix: for each target x clients x scenario, start a fresh server
(bench/run_servers.py), run bench/loadgen.py against it in its own process, keep the JSON
lines, and print a markdown table. This is what a `make bench` target can call.

    python -m bench.suite --targets baseline reference --clients 100 1000 \
        --scenarios fanout latency idle connect --out bench/results/results.jsonl

Target "ours" is not started here: pass --ours-url (and --ours-pid for RSS/CPU) to include a
Switchboard server that is already running.
"""
import argparse
import json
import os
import subprocess
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.run_servers import DEFAULT_REDIS, ROOT, start_server


# Per-scenario loadgen options: each run stays around 20 s (load + drain).
def scenario_opts(name, clients):
    if name == "fanout":  # ~100k expected deliveries whatever the client count
        return ["--messages", str(max(10, 100_000 // clients)), "--duration", "10", "--drain", "10"]
    if name == "latency":
        return ["--rate", "10", "--duration", "15", "--drain", "5"]
    if name == "idle":
        return ["--duration", "10"]
    if name == "cursor-storm":
        return ["--duration", "10", "--drain", "5", "--group-size", "20"]
    return ["--duration", "10"]


def flush_bench_db(url):
    """FLUSHDB, but only ever on db 15 (the bench's own db): stale channel-layer groups from
    an earlier killed run would otherwise slow the baseline's group_send."""
    import redis
    r = redis.Redis.from_url(url)
    if r.connection_pool.connection_kwargs.get("db") == 15:
        r.flushdb()
    r.close()


def run_one(target, url, pid, scenario, clients, extra):
    cmd = [sys.executable, "-m", "bench.loadgen", "--target", target, "--url", url,
           "--scenario", scenario, "--clients", str(clients), *scenario_opts(scenario, clients),
           *extra]
    if pid:
        cmd += ["--server-pid", str(pid)]
    print("$", " ".join(cmd[1:]), file=sys.stderr, flush=True)
    try:
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return {"scenario": scenario, "target": target, "clients": clients, "error": "timeout"}
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"scenario": scenario, "target": target, "clients": clients,
                "error": f"rc={p.returncode} {p.stderr[-500:]}"}
    return json.loads(lines[-1])


COLS = ["target", "scenario", "clients", "sent", "delivered", "expected", "lost", "out_of_order",
        "deliveries_per_s", "p50_ms", "p99_ms", "kb_per_conn", "connects_per_s", "cpu_pct",
        "loadgen_cpu_pct", "rss_end_kb", "drain", "error"]


def table(rows):
    out = ["| " + " | ".join(COLS) + " |", "|" + "---|" * len(COLS)]
    for r in rows:
        out.append("| " + " | ".join("" if r.get(c) is None else str(r.get(c)) for c in COLS) + " |")
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description="run the benchmark matrix")
    p.add_argument("--targets", nargs="+", default=["baseline", "reference"])
    p.add_argument("--clients", nargs="+", type=int, default=[100, 1000])
    p.add_argument("--scenarios", nargs="+", default=["fanout", "latency", "idle", "connect"])
    p.add_argument("--out", default="bench/results/results.jsonl", help="JSON lines appended here")
    p.add_argument("--ours-url", help="a running Switchboard, e.g. ws://127.0.0.1:8000/ws/")
    p.add_argument("--ours-pid", type=int)
    p.add_argument("--redis-url", default=os.environ.get("REDIS_URL", DEFAULT_REDIS))
    args, extra = p.parse_known_args()  # anything else goes to every loadgen run
    os.makedirs(os.path.dirname(os.path.join(ROOT, args.out)) or ".", exist_ok=True)
    rows = []
    with open(os.path.join(ROOT, args.out), "a") as out:
        for target in args.targets:
            for clients in args.clients:
                for scen in args.scenarios:
                    if target == "ours":
                        if not args.ours_url:
                            sys.exit("--ours-url is needed for target ours")
                        row = run_one(target, args.ours_url, args.ours_pid, scen, clients, extra)
                    else:
                        if target == "baseline":
                            flush_bench_db(args.redis_url)
                        # a fresh server per run: RSS and warm caches of one run don't leak
                        with start_server(target, redis_url=args.redis_url) as srv:
                            time.sleep(0.5)
                            row = run_one(target, srv.url, srv.pid, scen, clients, extra)
                    row["at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
                    out.write(json.dumps(row) + "\n")
                    out.flush()
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    print(table(rows))


if __name__ == "__main__":
    main()
