"""The standard benchmark set of `make bench` (bench/run_all.py): one entry per row, most
important first, with the options of each kind of row, and `quick()`, the same rows at toy
sizes (--quick, a check of the tooling)."""


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
