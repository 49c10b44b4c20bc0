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
import asyncio
import json
import os
import random
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

if __package__ in (None, ""):  # also runnable as `python bench/loadgen.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import chat, options, scenarios
from bench.adapters import TARGETS, dumps
from bench.external_publisher import ExternalPublisher, publisher_mode
from bench.metrics import Monitor, Stats, quiesce_gc, raise_nofile

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
                    # a close's code tells why (4401: the ticket was refused)
                    code = getattr(e, "code", None)
                    fails[type(e).__name__ + (f": closed with {code}" if isinstance(code, int)
                                              else "")] += 1
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
            async for frame in conn:
                d = decode(frame)
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
        quiesce_gc()
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
                    await pubs[0].send(ctx.target.publish_frame(pubs[0], ctx.body(0, sent)))
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
            await conn.send(ctx.target.cursor_frame(conn, {"t": time.time(), "p": i, "n": n}))
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


# chat-rooms: many rooms, one sender each; chat-window: one room, senders with a window of
# sends in flight (bench/chat.py).
SCENARIOS["idle"] = scenarios.idle
SCENARIOS["connect"] = scenarios.connect_storm
SCENARIOS["ingest"] = scenarios.ingest
SCENARIOS["chat-rooms"] = chat.chat_rooms
SCENARIOS["chat-window"] = chat.chat_window


def parse_args(argv=None):
    return options.parse_args(argv, __doc__.split("\n")[0], SCENARIOS)


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
