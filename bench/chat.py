"""Chat scenarios: what people on a site do (issue 18), every message a `chat.send` on ours.

`chat-rooms`: --rooms R rooms (`bench-0` .. on ours: bench/setup_ours.py --boards R) of
--room-size people each: one sender per room sending on an absolute schedule so that all
rooms together offer --rate messages/s for --duration, the others listening.

`chat-window`: --clients listeners in one room (--room) and --senders senders, each keeping
--window sends in flight (a new one as soon as one is answered), for --duration.

A send is answered by its `reply` on ours, and by its own echo elsewhere (the tutorial and
the reference have no replies; their senders are members of the room).  An `overloaded`
answer is retried after its retry_after with the same frame (same client_id: no duplicate),
as the browser client does; the message's send time stays the first attempt's, so the
wait counts in its latency.  Reported: the share delivered by the end of the sending
(`delivered_in_run`) and after the drain, p50/p99 send-to-delivery, order (a sender's
counter must rise at every listener), seq gaps (ours: per-topic seq must rise by one),
sends answered / unanswered / answered twice, refusals by code.
"""
import argparse
import asyncio
import time
from collections import Counter

from bench.adapters import dumps
from bench.metrics import Stats, quiesce_gc


def _options(extra):
    p = argparse.ArgumentParser(prog="chat", add_help=False)
    p.add_argument("--rooms", type=int, default=100)
    p.add_argument("--room-size", type=int, default=10)
    p.add_argument("--senders", type=int, default=1)
    p.add_argument("--window", type=int, default=20, help="chat-window: sends in flight per sender")
    return p.parse_known_args(extra)[0]


class Sender:
    """One sending connection: its sends awaiting an answer, and what the answers were."""

    def __init__(self, ctx, conn, index):
        self.ctx, self.conn, self.index = ctx, conn, index
        self.ours = ctx.target.name == "ours"
        self.pending = {}   # key (request_id on ours, counter elsewhere) -> frame
        self.sent = self.answered = self.twice = self.retries = 0
        self.refused = Counter()  # error codes that were final (not retried)
        self.slots = None   # chat-window: asyncio.Semaphore(window)
        self.idle = asyncio.Event()  # set whenever nothing is pending
        self.idle.set()

    async def send(self):
        n = self.sent
        body = self.ctx.body(self.index, n)
        if self.ours:
            key = str(next(self.conn.ids))
            frame = dumps({"action": "chat.send", "request_id": key, "topic": self.conn.topic,
                           "data": {"body": body, "client_id": f"{self.ctx.run_id}-{self.index}-{n}"}})
        else:
            key, frame = n, self.ctx.target.publish_frame(self.conn, body)
        self.pending[key] = frame
        self.idle.clear()
        self.sent += 1
        await self.conn.send(frame)

    def _answer(self, key):
        if self.pending.pop(key, None) is None:
            self.twice += 1  # an answer to nothing pending: a second answer
            return
        self.answered += 1
        if self.slots is not None:
            self.slots.release()
        if not self.pending:
            self.idle.set()

    async def _retry(self, key, wait):
        await asyncio.sleep(wait)
        frame = self.pending.get(key)
        if frame is not None:
            self.retries += 1
            await self.conn.send(frame)

    async def read(self):
        """Reads the sender's socket until it closes: answers, and on ours the errors."""
        try:
            async for f in self.conn:
                if self.ours:
                    kind, key = f.get("type"), f.get("request_id")
                    if key not in self.pending and kind in ("reply", "error") and \
                            not str(key).isdigit():
                        continue  # the keepalive's pings
                    if kind == "reply":
                        self._answer(key)
                    elif kind == "error":
                        err = f.get("error") or {}
                        self.ctx.target.errors[str(err.get("code"))] += 1
                        if err.get("code") in ("overloaded", "unavailable", "rate_limited") \
                                and key in self.pending:
                            asyncio.create_task(self._retry(key, float(err.get("retry_after") or 1)))
                        else:
                            self.refused[str(err.get("code"))] += 1
                            self._answer(key)
                else:
                    d = self.ctx.target.decode(f)
                    payload = d[2] if d else None
                    if payload and payload.get("p") == self.index and \
                            payload.get("r") == self.ctx.run_id:
                        self._answer(payload.get("n"))
        except Exception:
            pass  # closed at the end of the run


async def _paced(sender, period, t0, end):
    """chat-rooms: one send every `period` s from t0 (absolute schedule: no drift, no
    bursts), whatever the answers."""
    while time.time() < end:
        delay = t0 + sender.sent * period - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await sender.send()


async def _windowed(sender, window, end):
    """chat-window: keeps `window` sends in flight until `end`."""
    sender.slots = asyncio.Semaphore(window)
    while True:
        try:
            await asyncio.wait_for(sender.slots.acquire(), max(0.001, end - time.time()))
        except TimeoutError:
            return
        if time.time() >= end:
            return
        await sender.send()


async def _run(ctx, name, listen_rooms, send_rooms, drive, **info):
    a = ctx.args
    listeners, fails, _ = await ctx.open_many(listen_rooms)
    conns, sfails, _ = await ctx.open_many(send_rooms)
    if len(conns) < len(send_rooms):
        await ctx.close_all(listeners + conns)
        return {"scenario": name, "target": a.target,
                "error": f"senders: {sfails}; listeners: {fails}"}
    members = Counter(c.room for c in listeners)
    stats = Stats(ctx.run_id)
    readers = ctx.start_readers(listeners, stats)
    senders = [Sender(ctx, c, i) for i, c in enumerate(conns)]
    readers += [asyncio.create_task(s.read()) for s in senders]
    await asyncio.sleep(a.settle)
    quiesce_gc()
    ctx.mon.start()
    t0 = time.time()
    await asyncio.gather(*(drive(s, t0) for s in senders))
    send_s = time.time() - t0
    in_run = stats.delivered
    # answered and stored while sending: the write rate the server kept up with
    stored = sum(s.answered - sum(s.refused.values()) for s in senders)

    def expected():  # every send not finally refused is stored (or will be): all must arrive
        return sum((s.sent - sum(s.refused.values())) * members[s.conn.room] for s in senders)

    drain = await ctx.drain(stats, expected())
    sent = sum(s.sent for s in senders)
    span = (stats.last or time.time()) - t0
    out = ctx.result(
        name, len(listeners) + len(senders), stats, sent=sent, expected=expected(), drain=drain,
        send_s=round(send_s, 3), publish_rate=round(sent / send_s, 1) if send_s else None,
        stored_per_s=round(stored / send_s, 1) if send_s and ctx.target.name == "ours" else None,
        delivered_in_run=in_run,
        delivered_in_run_share=round(in_run / expected(), 4) if expected() else None,
        delivered_share=round(stats.delivered / expected(), 4) if expected() else None,
        deliveries_per_s=round(stats.delivered / span, 1) if span > 0 else None,
        answered=sum(s.answered for s in senders),
        unanswered=sum(len(s.pending) for s in senders),
        answered_twice=sum(s.twice for s in senders), retries=sum(s.retries for s in senders),
        refused=dict(sum((s.refused for s in senders), Counter())),
        connect_failures={**fails, **sfails}, **info)
    await ctx.close_all(listeners + conns, readers)
    return out


async def chat_rooms(ctx):
    """--rooms rooms of --room-size people, one paced sender each, --rate msg/s in all."""
    a, o = ctx.args, _options(ctx.extra)
    rate = a.rate or 100.0
    rooms = [ctx.target.board_room("bench", i) for i in range(o.rooms)]
    period = len(rooms) / rate  # each room's sender: rate / rooms messages a second

    def drive(sender, t0):  # the senders' phases spread evenly over one period
        return _paced(sender, period, t0 + period * sender.index / len(rooms), t0 + a.duration)

    return await _run(ctx, "chat-rooms", [r for r in rooms for _ in range(o.room_size - 1)],
                      rooms, drive, rate=rate, rooms=o.rooms, room_size=o.room_size)


async def chat_window(ctx):
    """--clients listeners in --room, --senders senders each with --window sends in flight."""
    a, o = ctx.args, _options(ctx.extra)

    def drive(sender, t0):
        return _windowed(sender, o.window, t0 + a.duration)

    return await _run(ctx, "chat-window", [a.room] * a.clients, [a.room] * o.senders, drive,
                      senders=o.senders, window=o.window)
