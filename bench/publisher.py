"""A publisher in its own process, publishing from sync code as a Celery worker does.

  ours      `realtime.publish.publish(topic, "notification", {"body": B})` in a loop: each one
            durable (outbox row + seq in its own transaction, sent after commit by the
            process's background sender), project settings, the caller's DATABASE_URL/REDIS_URL.
  baseline  `async_to_sync(channel_layer.group_send)("chat_<room>", ...)` in a loop, the way
            the Channels docs tell sync code (a Celery task) to send to a group.

The load generator starts it, waits for its "ready" line (Django is set up and one
publish went through, so connection set-up is not timed), writes "go" to its stdin, and
reads one JSON result line: {"sent", "publish_s", "publish_rate"}.  Bodies are the
loadgen's payload format {"t", "p", "n", "pad"}.  Bounded by --messages and --duration.

    python -m bench.publisher --kind ours --topic room:bench --messages 500
"""
import argparse
import json
import os
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make_body(pad_to, run_id):
    bare = len(json.dumps({"t": time.time(), "p": 0, "n": 10**6, "r": run_id, "pad": ""},
                          separators=(",", ":")))
    pad = "x" * max(0, pad_to - bare)

    def body(p, n):
        return json.dumps({"t": time.time(), "p": p, "n": n, "r": run_id, "pad": pad},
                          separators=(",", ":"))

    return body


def sender(kind, topic, ephemeral=False):
    """(send(body) for one message, flush()) for the publisher kind."""
    if kind == "ours":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
        import django

        django.setup()
        from realtime.publish import flush, publish

        def send(body):
            publish(topic, "notification", {"body": body}, ephemeral=ephemeral)

        return send, flush
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.baseline.settings"
    import django

    django.setup()
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    group_send = async_to_sync(get_channel_layer().group_send)
    group = "chat_" + topic.split(":", 1)[-1]

    def send(body):
        group_send(group, {"type": "chat.message", "message": body})

    return send, lambda: None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--kind", choices=["ours", "baseline"], default="ours")
    p.add_argument("--topic", default="room:bench", help="ours: topic; baseline: room:<room>")
    p.add_argument("--messages", type=int, default=1000)
    p.add_argument("--duration", type=float, default=10.0, help="stop publishing after this")
    p.add_argument("--rate", type=float, default=0.0, help="messages/s; 0 = as fast as possible")
    p.add_argument("--payload", type=int, default=100)
    p.add_argument("--pub-id", type=int, default=0, help="the payload's publisher id `p`")
    p.add_argument("--ephemeral", action="store_true", help="ours: ephemeral (no outbox row)")
    p.add_argument("--run-id", default="", help="the payload's run tag `r`")
    p.add_argument("--no-wait", action="store_true", help="start at once (no ready/go handshake)")
    args = p.parse_args(argv)

    send, flush = sender(args.kind, args.topic, args.ephemeral)
    body = make_body(args.payload, args.run_id)
    # Warm-up: connections made, first-call costs paid (tagged: never counted as delivered).
    send(make_body(args.payload, "warm-up")(-1, -1))
    flush()
    if not args.no_wait:
        print(json.dumps({"ready": True, "pid": os.getpid()}), flush=True)
        if sys.stdin.readline().strip() != "go":
            return
    sent, t0 = 0, time.time()
    end = t0 + args.duration
    period = 1.0 / args.rate if args.rate else 0.0
    while sent < args.messages and time.time() < end:
        if period:  # absolute schedule: no drift, no bursts
            delay = t0 + sent * period - time.time()
            if delay > 0:
                time.sleep(delay)
        send(body(args.pub_id, sent))
        sent += 1
    publish_s = time.time() - t0
    flush()  # every send has reached Redis
    flushed_s = time.time() - t0
    print(json.dumps({"sent": sent, "publish_s": round(publish_s, 3),
                      "publish_rate": round(sent / publish_s, 1) if publish_s > 0 else None,
                      "flushed_s": round(flushed_s, 3)}), flush=True)
    if not args.no_wait:
        # Stay until the load generator has read this process's CPU time (it then kills
        # it, or closes stdin): exiting at once raced its psutil call (NoSuchProcess).
        sys.stdin.readline()


if __name__ == "__main__":
    main()
