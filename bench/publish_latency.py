"""Publish -> deliver latency of one durable event to one subscriber (issue: < 5 ms median).

Publishes from this process with realtime.publish.publish() (sync, durable: outbox row,
seq, commit, then the channel layer) to a topic one websocket client follows on a running
server, one event at a time, and reports p50/p90/p99 of (receive time - time before the
publish call).  Both ends use the same clock.

    python -m bench.publish_latency --url ws://127.0.0.1:8000/ws/ --count 300

Run it with the server's DATABASE_URL and REDIS_URL (it writes the outbox and a ticket).
"""

import argparse
import asyncio
import json
import os
import statistics
import time


async def main(args):
    import websockets
    from asgiref.sync import sync_to_async
    from django.contrib.auth import get_user_model

    from realtime.auth import issue_ticket
    from realtime.publish import publish

    user, _ = await sync_to_async(get_user_model().objects.get_or_create)(username="latency-bench")
    topic = f"user:{user.pk}"
    ticket = await sync_to_async(issue_ticket)(user)
    samples = []
    async with websockets.connect(f"{args.url}?ticket={ticket}") as ws:
        await ws.send(json.dumps({"action": "subscribe", "request_id": 1, "topic": topic}))
        await ws.recv()
        for n in range(args.count + args.warmup):
            start = time.perf_counter()
            await sync_to_async(publish)(topic, "notification", {"n": n})
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if frame.get("type") == "event" and frame["data"].get("n") == n:
                    break
            if n >= args.warmup:
                samples.append((time.perf_counter() - start) * 1000)
            await asyncio.sleep(args.gap)
    samples.sort()
    result = {"scenario": "publish-latency", "count": len(samples),
              "p50_ms": round(statistics.median(samples), 2),
              "p90_ms": round(samples[int(len(samples) * 0.9)], 2),
              "p99_ms": round(samples[int(len(samples) * 0.99) - 1], 2)}
    print(json.dumps(result))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="ws://127.0.0.1:8000/ws/")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--gap", type=float, default=0.02, help="seconds between publishes")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()
    asyncio.run(main(parser.parse_args()))
