"""Load generator for Switchboard and its comparison servers (asyncio + websockets client).

Run it as its own process, from the repo root, e.g.
    python -m bench.loadgen --target baseline --url ws://127.0.0.1:8101 \
        --scenario fanout,latency --clients 1000 --server-pid 1234

It prints one JSON line per scenario on stdout. Scenarios:
  fanout        N subscribers on one topic; one unthrottled publisher sends --messages
                (stops early at --duration); deliveries/s, lost, out-of-order.
  latency       N subscribers; publisher at --rate msg/s (default 10) for --duration; p50/p99.
  idle          open N subscribed connections, wait --duration; server RSS delta / N.
  connect       open N connections as fast as possible (--concurrency at a time); connects/s.
  cursor-storm  N clients on boards of --group-size, each moving a cursor at --rate Hz
                (default 20) for --duration; delivered frames/s and latency.
  ingest        hook point: implemented by bench/ingest.py (async def run(ctx)) when present.

Latency = receive time.time() - send time.time() carried in the payload (same host clock).
Every run is bounded: --messages and --duration, plus at most --drain s of draining and
--open-timeout s of connecting.
"""
import argparse
import asyncio
import importlib
import json
import os
import random
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import psutil

if __package__ in (None, ""):  # also runnable as `python bench/loadgen.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import chat
from bench.adapters import TARGETS, dumps
from bench.metrics import Monitor, Stats, raise_nofile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCENARIOS = {}


def scenario(name):
    def deco(fn):
        SCENARIOS[name] = fn
        return fn
    return deco


class Ctx:
    """What a scenario needs: options, the target adapter, and connection helpers."""

    def __init__(self, args, target, extra=()):
        self.args, self.target, self.extra = args, target, list(extra)
        self.mon = Monitor(args.server_pid)
        self.closing = False
        self.dropped = 0  # connections the server closed during the run
        self._pad = None
        # Tags this run's payloads: a late delivery of an earlier run's backlog is not counted.
        self.run_id = os.urandom(4).hex()

    def body(self, pub, n) -> str:
        """A payload string of about --payload bytes carrying send time, publisher, counter."""
        if self._pad is None:
            bare = len(dumps({"t": time.time(), "p": 0, "n": 10**6, "r": self.run_id, "pad": ""}))
            self._pad = "x" * max(0, self.args.payload - bare)
        return dumps({"t": time.time(), "p": pub, "n": n, "r": self.run_id, "pad": self._pad})

    async def open_many(self, rooms, kind="chat"):
        """Open (connect + subscribe) one connection per room entry, bounded concurrency.
        Returns (connections, failure counts by exception name, connect times in ms)."""
        sem, fails, times = asyncio.Semaphore(self.args.concurrency), Counter(), []

        async def one(room):
            async with sem:
                t0 = time.perf_counter()
                try:
                    conn = await self.target.open(room, kind)
                except Exception as e:  # count and go on: failures are a result too
                    fails[type(e).__name__] += 1
                    return None
                times.append((time.perf_counter() - t0) * 1000)
                return conn

        tasks = [asyncio.create_task(one(r)) for r in rooms]
        done, pending = await asyncio.wait(tasks, timeout=self.args.open_timeout)
        for t in pending:
            t.cancel()
        fails["open_timeout"] += len(pending)
        conns = [t.result() for t in done if t.result() is not None]
        return conns, {k: v for k, v in fails.items() if v}, times

    def start_readers(self, conns, stats=None):
        """One reader task per connection; deliveries go to `stats` (None: just drain)."""
        return [asyncio.create_task(self._read(c, stats)) for c in conns]

    async def _read(self, conn, stats):
        decode = self.target.decode
        try:
            async for raw in conn.ws:
                d = decode(raw)
                if d is not None and stats is not None:
                    stats.record(conn, *d)
        except Exception:
            pass  # ConnectionClosed and the like; counted below
        if not self.closing:
            self.dropped += 1

    async def close_all(self, conns, readers=()):
        self.closing = True
        for t in readers:
            t.cancel()
        await asyncio.wait_for(asyncio.gather(*(c.close() for c in conns),
                                              return_exceptions=True), 15)
        self.closing = False

    async def drain(self, stats, expected, quiet=None):
        """Wait for deliveries to reach `expected`; give up after `quiet` s without progress
        or --drain s in all. Returns how it ended: "complete", "quiet" or "deadline"."""
        quiet = self.args.quiet if quiet is None else quiet
        end, last, changed = time.time() + self.args.drain, -1, time.time()
        while stats.delivered < expected:
            if time.time() >= end:
                return "deadline"  # still delivering: the rest counts as lost
            await asyncio.sleep(0.1)
            if stats.delivered != last:
                last, changed = stats.delivered, time.time()
            elif time.time() - changed > quiet:
                return "quiet"  # nothing more came: really lost
        return "complete"

    def result(self, name, clients, stats=None, **kw):
        a = self.args
        out = {"scenario": name, "target": a.target, "clients": clients,
               "requested_clients": a.clients, "payload": a.payload}
        if stats is not None:
            out.update(stats.summary())
        out.update(kw)
        if "expected" in out and "delivered" in out:
            out["lost"] = out["expected"] - out["delivered"]
        out.update(self.mon.stop())
        out["dropped_conns"] = self.dropped
        if self.target.errors:
            out["server_errors"] = dict(self.target.errors)
        return out


class ExternalPublisher:
    """bench/publisher.py in its own process (--publisher sync): started before the
    subscribers connect (Django set-up is not timed), told "go" after they settle."""

    def __init__(self, proc):
        self.proc = proc
        self.ps = psutil.Process(proc.pid)

    @classmethod
    async def start(cls, a, paced, run_id):
        kind = "ours" if a.target == "ours" else "baseline"
        topic = f"room:{a.room}"
        cmd = [sys.executable, "-m", "bench.publisher", "--kind", kind, "--topic", topic,
               "--messages", str(a.messages), "--duration", str(a.duration),
               "--payload", str(a.payload), "--rate", str((a.rate or 10.0) if paced else 0),
               "--run-id", run_id, *(["--ephemeral"] if a.ephemeral else [])]
        env = dict(os.environ)
        if a.redis_url:
            env["REDIS_URL"] = a.redis_url
        proc = await asyncio.create_subprocess_exec(
            *cmd, cwd=ROOT, env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        self = cls(proc)
        line = await self._line(60)
        if not line.get("ready"):
            raise RuntimeError(f"publisher did not start: {line}")
        return self

    async def _line(self, timeout):
        while True:
            raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
            if not raw:
                await self.proc.wait()
                raise RuntimeError(f"publisher exited with {self.proc.returncode}")
            if raw.startswith(b"{"):
                return json.loads(raw)

    async def go(self, timeout):
        cpu0 = sum(self.ps.cpu_times()[:2])
        t0 = time.time()
        self.proc.stdin.write(b"go\n")
        await self.proc.stdin.drain()
        try:
            out = await self._line(timeout)
            out["publisher_cpu_pct"] = round(
                100 * (sum(self.ps.cpu_times()[:2]) - cpu0) / max(time.time() - t0, 1e-9), 1)
            return out
        finally:
            await self.stop()

    async def stop(self):
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


def publisher_mode(a):
    if a.publisher == "auto":
        return "sync" if a.target == "ours" else "socket"
    if a.publisher == "http" and a.target != "ours":
        raise SystemExit("--publisher http is for target ours")
    if a.publisher == "sync" and a.target == "reference":
        raise SystemExit("--publisher sync is for targets ours and baseline")
    return a.publisher


async def _publish_run(ctx, name, paced):
    """fanout (paced=False) and latency (paced=True): N subscribers + 1 publisher, one topic."""
    a = ctx.args
    mode = publisher_mode(a)
    ext = await ExternalPublisher.start(a, paced, ctx.run_id) if mode == "sync" else None
    try:
        subs, fails, _ = await ctx.open_many([a.room] * a.clients)
        pubs, pfails = [], {}
        if mode == "socket":
            pubs, pfails, _ = await ctx.open_many([a.room])
            if not pubs:
                await ctx.close_all(subs)
                return {"scenario": name, "target": a.target, "error": f"publisher: {pfails}"}
        stats = Stats(ctx.run_id)
        readers = ctx.start_readers(subs, stats) + ctx.start_readers(pubs)  # publisher: drain only
        await asyncio.sleep(a.settle)
        ctx.mon.start()
        sent, t0, extra = 0, time.time(), {}
        end, period = t0 + a.duration, 1.0 / (a.rate or 10.0)
        if ext is not None:
            extra = await ext.go(a.duration + 60)
            sent = extra.pop("sent")
            pub_s = extra.pop("publish_s")
        else:
            while sent < a.messages and time.time() < end:
                if paced:  # absolute schedule: no drift, no bursts
                    delay = t0 + sent * period - time.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                if mode == "http":
                    await asyncio.to_thread(ctx.target.http_publish, ctx.body(0, sent))
                else:
                    await pubs[0].ws.send(ctx.target.publish_frame(pubs[0], ctx.body(0, sent)))
                sent += 1
                if not paced:
                    await asyncio.sleep(0)  # let the readers run; not a throttle
            pub_s = time.time() - t0
            extra["publish_rate"] = round(sent / pub_s, 1)
        expected = sent * len(subs)
        drain = await ctx.drain(stats, expected)
        span = (stats.last or time.time()) - t0
        out = ctx.result(name, len(subs), stats, sent=sent, expected=expected, publisher=mode,
                         drain=drain, publish_s=round(pub_s, 3), **extra,
                         deliveries_per_s=round(stats.delivered / span, 1) if span > 0 else None,
                         connect_failures=fails)
        await ctx.close_all(subs + pubs, readers)
        return out
    finally:
        if ext is not None:
            await ext.stop()


@scenario("fanout")
async def fanout(ctx):
    return await _publish_run(ctx, "fanout", paced=False)


@scenario("latency")
async def latency(ctx):
    return await _publish_run(ctx, "latency", paced=True)


@scenario("idle")
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


@scenario("connect")
async def connect_storm(ctx):
    a = ctx.args
    await ctx.target.prepare(a.clients)  # ours with --mint-tickets: tickets issued beforehand
    ctx.mon.start()
    t0 = time.perf_counter()
    conns, fails, times = await ctx.open_many([a.room] * a.clients)
    took = time.perf_counter() - t0
    times.sort()
    def pick(q):
        return (round(times[min(len(times) - 1, int(q * len(times)))], 2)
                if times else None)
    out = ctx.result("connect", len(conns), connects_per_s=round(len(conns) / took, 1),
                     connect_s=round(took, 3), connect_p50_ms=pick(0.5), connect_p99_ms=pick(0.99),
                     concurrency=a.concurrency, connect_failures=fails)
    await ctx.close_all(conns)
    return out


@scenario("cursor-storm")
async def cursor_storm(ctx):
    a = ctx.args
    g = max(1, a.group_size)
    rooms = [a.board if a.clients <= g else ctx.target.board_room(a.board, i // g)
             for i in range(a.clients)]
    conns, fails, _ = await ctx.open_many(rooms, kind="board")
    stats, members, sent = Stats(), Counter(c.room for c in conns), Counter()
    readers = ctx.start_readers(conns, stats)
    await asyncio.sleep(a.settle)
    ctx.mon.start()
    t0 = time.time()
    end, period = t0 + a.duration, 1.0 / (a.rate or 20.0)

    async def mover(i, conn):
        nxt, n = t0 + random.random() * period, 0  # spread the clients' phases
        while True:
            delay = nxt - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if time.time() >= end:
                return
            await conn.ws.send(ctx.target.cursor_frame(conn, {"t": time.time(), "p": i, "n": n}))
            n += 1
            sent[conn.room] += 1
            nxt = max(nxt + period, time.time() - period)  # when late, skip: no catch-up burst

    await asyncio.gather(*(mover(i, c) for i, c in enumerate(conns)), return_exceptions=True)
    # "ours" does not echo a move to its mover, and drops moves above 20/s per connection.
    others = 0 if ctx.target.echoes_cursor else 1
    expected = sum(n * (members[room] - others) for room, n in sent.items())
    drain = await ctx.drain(stats, expected, quiet=2.0)
    span = (stats.last or time.time()) - t0
    out = ctx.result("cursor-storm", len(conns), stats, sent=sum(sent.values()),
                     expected=expected, drain=drain, hz=1 / period, group_size=g,
                     deliveries_per_s=round(stats.delivered / span, 1) if span > 0 else None,
                     connect_failures=fails)
    await ctx.close_all(conns, readers)
    return out


@scenario("ingest")
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


# chat-rooms: many rooms, one sender each; chat-window: one room, senders with a window of
# sends in flight (bench/chat.py).
SCENARIOS["chat-rooms"] = chat.chat_rooms
SCENARIOS["chat-window"] = chat.chat_window


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scenario", default="fanout",
                   help=f"comma-separated, from {', '.join(SCENARIOS)}")
    p.add_argument("--target", choices=sorted(TARGETS), default="baseline")
    p.add_argument("--url", help="ours: ws://HOST/ws/  baseline: ws://HOST  reference: ws://HOST/")
    p.add_argument("--clients", type=int, default=100)
    p.add_argument("--rate", type=float, help="latency: msg/s (10); cursor-storm: Hz (20)")
    p.add_argument("--payload", type=int, default=100, help="payload bytes (approximate)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of load (idle: of waiting)")
    p.add_argument("--messages", type=int, default=1000, help="fanout/latency: max messages")
    p.add_argument("--server-pid", help="sample these processes' RSS/CPU (+children); "
                                        "comma-separated for several servers")
    p.add_argument("--api-url", help="ours: HTTP base for /api/auth/* (default: from --url)")
    p.add_argument("--publisher", choices=["auto", "socket", "sync", "http"], default="auto",
                   help="fanout/latency publisher: socket (a client connection), sync "
                        "(bench/publisher.py process; ours, baseline), http (ours: POST "
                        "/api/publish/); auto = sync for ours, socket otherwise")
    p.add_argument("--redis-url", help="REDIS_URL for a sync publisher (default: inherited)")
    p.add_argument("--ephemeral", action="store_true",
                   help="sync publisher (ours): ephemeral publishes (no outbox write, seq null)")
    p.add_argument("--quiet", type=float, default=3.0,
                   help="drain: seconds without a delivery that end the wait (really lost)")
    p.add_argument("--mint-tickets", metavar="REDIS_URL",
                   help="ours: write connect tickets straight to this Redis (skips the HTTP "
                        "ticket request; for idle runs)")
    p.add_argument("--mint-user", type=int, help="ours: user id for --mint-tickets")
    p.add_argument("--distinct-users", action="store_true",
                   help="ours, connect storm with --mint-tickets: every connection a different "
                        "user (a room reconnecting: presence joins of a crowd)")
    p.add_argument("--session", action="store_true",
                   help="ours: connect as a logged-in browser does (session cookie + Origin), "
                        "no ticket")
    p.add_argument("--username", default="bench")
    p.add_argument("--password", default="bench-pass")
    p.add_argument("--room", default="bench", help="room name (topic room:<name> for ours)")
    p.add_argument("--board", default="bench", help="cursor-storm board name (board:<name>)")
    p.add_argument("--group-size", type=int, default=20, help="cursor-storm clients per board")
    p.add_argument("--concurrency", type=int, default=50, help="connections opened at once")
    p.add_argument("--settle", type=float, default=1.0, help="pause after connecting")
    p.add_argument("--drain", type=float, default=10.0, help="max seconds to await stragglers")
    p.add_argument("--open-timeout", type=float, default=120.0, help="max seconds to connect all")
    args, extra = p.parse_known_args(argv)
    names = [s.strip() for s in args.scenario.split(",") if s.strip()]
    bad = [s for s in names if s not in SCENARIOS]
    if bad or (extra and not {"ingest", "chat-rooms", "chat-window"} & set(names)):
        p.error(f"unknown scenario(s) {bad} or options {extra}")
    return args, names, extra


async def amain(args, names, extra):
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=32))
    target = TARGETS[args.target](args)
    await target.setup()
    for name in names:
        ctx = Ctx(args, target, extra)
        cap = args.duration + args.drain + 2 * args.open_timeout + 60  # hard bound per scenario
        try:
            out = await asyncio.wait_for(SCENARIOS[name](ctx), cap)
        except Exception as e:
            out = {"scenario": name, "target": args.target, "error": f"{type(e).__name__}: {e}"}
        print(json.dumps(out), flush=True)
        target.errors.clear()


def main(argv=None):
    args, names, extra = parse_args(argv)
    raise_nofile(args.clients + 1024)  # one fd per connection, plus headroom
    asyncio.run(amain(args, names, extra))


if __name__ == "__main__":
    main()
