"""The load generator's idle, connect and ingest scenarios (bench/loadgen.py registers
them): each takes the run's context (bench.loadgen.Ctx) and returns its result row."""
import asyncio
import importlib
import time

from bench.metrics import pct


async def idle(ctx):
    a = ctx.args
    ctx.mon.start()  # RSS before any connection
    conns, fails, _ = await ctx.open_many([a.room] * a.clients)
    readers = ctx.start_readers(conns)
    await asyncio.sleep(a.duration)  # connections sit idle (ours: keepalive pings)
    m = ctx.mon.stop()
    kb = None
    if m.get("rss_end_kb") is not None and conns:
        kb = round((m["rss_end_kb"] - m["rss_start_kb"]) / len(conns), 2)
    out = ctx.result("idle", len(conns), kb_per_conn=kb, connect_failures=fails)
    await ctx.close_all(conns, readers)
    return out


async def connect_storm(ctx):
    a = ctx.args
    await ctx.target.prepare(a.clients)  # ours with --mint-tickets: tickets issued beforehand
    ctx.mon.start()
    t0 = time.perf_counter()
    conns, fails, times = await ctx.open_many([a.room] * a.clients)
    took = time.perf_counter() - t0
    times.sort()
    out = ctx.result("connect", len(conns), connects_per_s=round(len(conns) / took, 1),
                     connect_s=round(took, 3), connect_p50_ms=pct(times, 0.5),
                     connect_p99_ms=pct(times, 0.99),
                     concurrency=a.concurrency, connect_failures=fails)
    await ctx.close_all(conns)
    return out


async def ingest(ctx):
    """Hook point: the ingest scenario lives in bench/ingest.py as `async def run(ctx)`
    returning a result dict (use ctx.open_many / start_readers / result / close_all).
    Unknown command-line options are passed to it in ctx.extra."""
    try:
        mod = importlib.import_module("bench.ingest")
    except ModuleNotFoundError as e:
        if e.name != "bench.ingest":
            raise
        return {"scenario": "ingest", "target": ctx.args.target,
                "error": "not implemented yet (bench/ingest.py missing)"}
    if not hasattr(mod, "run"):  # the feeds' bench/ingest.py is a command of its own
        return {"scenario": "ingest", "target": ctx.args.target,
                "error": "bench/ingest.py has no run(ctx): use `python -m bench.ingest`"}
    return await mod.run(ctx)
