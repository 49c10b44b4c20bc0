"""The `chat-rooms` scenario: what a site full of people does (issue 18).

--rooms R rooms (`bench-0` .. on ours: bench/setup_ours.py --boards R) of --room-size
people each: one sender sending `chat.send` (ours; a plain publish elsewhere) paced so all
rooms together offer --rate messages/s for --duration, the others listening.  Reports the
share delivered, p50/p99 send-to-delivery, seq gaps and order, and the server errors seen
(`overloaded` refusals included: an overloaded server says so instead of queueing).
"""
import argparse
import asyncio
import time

from bench.metrics import Stats


def _options(extra):
    p = argparse.ArgumentParser(prog="chat-rooms", add_help=False)
    p.add_argument("--rooms", type=int, default=100)
    p.add_argument("--room-size", type=int, default=10)
    return p.parse_known_args(extra)[0]


async def _sender(ctx, conn, index, period, t0, end, counts):
    n = 0
    while time.time() < end:
        delay = t0 + n * period - time.time()  # absolute schedule: no drift, no bursts
        if delay > 0:
            await asyncio.sleep(delay)
        await conn.ws.send(ctx.target.publish_frame(conn, ctx.body(index, n)))
        n += 1
    counts[index] = n


async def chat_rooms(ctx):
    a, o = ctx.args, _options(ctx.extra)
    rate = a.rate or 100.0
    rooms = [ctx.target.board_room("bench", i) for i in range(o.rooms)]
    listeners, fails, _ = await ctx.open_many([r for r in rooms for _ in range(o.room_size - 1)])
    senders, sfails, _ = await ctx.open_many(rooms)
    if len(senders) < len(rooms):
        await ctx.close_all(listeners + senders)
        return {"scenario": "chat-rooms", "target": a.target, "error": f"senders: {sfails}"}
    by_room = {}
    for conn in listeners:
        by_room[conn.room] = by_room.get(conn.room, 0) + 1
    stats = Stats(ctx.run_id)
    readers = ctx.start_readers(listeners, stats) + ctx.start_readers(senders)  # senders: drain
    await asyncio.sleep(a.settle)
    ctx.mon.start()
    counts, t0 = {}, time.time()
    period = len(rooms) / rate  # each room's sender: rate / rooms messages a second
    await asyncio.gather(*(_sender(ctx, conn, i, period, t0 + period * i / len(rooms),
                                   t0 + a.duration, counts) for i, conn in enumerate(senders)))
    sent = sum(counts.values())
    expected = sum(counts[i] * by_room.get(conn.room, 0) for i, conn in enumerate(senders))
    drain = await ctx.drain(stats, expected)
    out = ctx.result("chat-rooms", len(listeners) + len(senders), stats, sent=sent,
                     expected=expected, rate=rate, rooms=o.rooms, room_size=o.room_size,
                     drain=drain, connect_failures={**fails, **sfails},
                     delivered_share=round(stats.delivered / expected, 4) if expected else None)
    await ctx.close_all(listeners + senders, readers)
    return out
