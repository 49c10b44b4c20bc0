"""The load generator's command line (bench/loadgen.py)."""
import argparse

from bench.adapters import TARGETS


def parse_args(argv, description, scenarios):
    """(options, scenario names, unknown options: the chat and ingest scenarios' own)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--scenario", default="fanout",
                   help=f"comma-separated, from {', '.join(scenarios)}")
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
    bad = [s for s in names if s not in scenarios]
    if bad or (extra and not {"ingest", "chat-rooms", "chat-window"} & set(names)):
        p.error(f"unknown scenario(s) {bad} or options {extra}")
    return args, names, extra
