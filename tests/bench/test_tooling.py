"""The bench tooling runs against the real server (a smoke test, not a measurement: no
figure is asserted beyond "every message arrived, in order")."""

import argparse
import asyncio
import json
import subprocess
import sys
import time

import pytest

from bench import report, run_all, setup_ours
from tests import servers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(90)]


@pytest.fixture
def bench_server(transactional_db):
    """One daphne on the test database with the bench user and room; (server, env)."""
    info = setup_ours.setup(boards=3)
    # The window rows' one bench condition (bench/run_all.py FAST_SENDER): a sender may
    # send faster than the per-socket 50 frames/s.
    env = servers.server_env({"DATABASE_URL": servers.database_url(), "REST_WRITE_RATE": "100000/min",
                              **run_all.FAST_SENDER})
    server = servers.start_daphne(env=env)
    yield server, env, info
    server.stop()


def loadgen(server, env, *args):
    cmd = [sys.executable, "-m", "bench.loadgen", "--target", "ours", "--url", server.ws_url,
           "--server-pid", str(server.pid), "--settle", "0.2", *args]
    result = subprocess.run(cmd, cwd=servers.ROOT, env=env, capture_output=True, text=True, timeout=60)
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert rows, result.stderr[-2000:]
    return rows


def test_loadgen_fans_out_through_the_sync_publisher_and_a_socket_publisher(bench_server):
    server, env, _ = bench_server
    common = ["--clients", "20", "--messages", "30", "--duration", "3", "--drain", "5"]
    sync, = loadgen(server, env, "--scenario", "fanout", *common)
    socket, = loadgen(server, env, "--scenario", "fanout", "--publisher", "socket", *common)
    for row in (sync, socket):
        assert row.get("error") is None, row
        assert row["delivered"] == row["expected"] == 20 * 30, row
        assert row["out_of_order"] == 0 and row["seq_gaps"] == 0, row
        assert row["cpu_pct"] is not None and row["dropped_conns"] == 0
    assert sync["publisher"] == "sync" and socket["publisher"] == "socket"


def test_loadgen_connects_with_http_and_minted_tickets_and_measures_cursors(bench_server):
    server, env, info = bench_server
    connect, idle = loadgen(server, env, "--scenario", "connect,idle", "--clients", "20",
                            "--duration", "1")
    assert connect["connects_per_s"] > 0 and connect["connect_failures"] == {}
    assert idle["clients"] == 20 and idle["kb_per_conn"] is not None
    cursor, = loadgen(server, env, "--scenario", "cursor-storm", "--clients", "20", "--group-size", "10",
                      "--rate", "5", "--duration", "2", "--drain", "3", "--board", "bench",
                      "--mint-tickets", env["REDIS_URL"], "--mint-user", str(info["user_id"]))
    assert cursor["delivered"] > 0 and cursor["out_of_order"] == 0, cursor
    assert cursor["p50_ms"] is not None and cursor["p50_ms"] < 5000


def test_loadgen_connects_as_a_logged_in_browser_with_the_session_cookie(bench_server):
    server, env, _ = bench_server
    connect, = loadgen(server, env, "--scenario", "connect", "--clients", "20", "--session")
    assert connect.get("error") is None, connect
    assert connect["clients"] == 20 and connect["connect_failures"] == {}, connect


def test_loadgen_connects_a_crowd_of_different_users(bench_server):
    import time

    from realtime.models import Connection

    server, env, info = bench_server
    connect, = loadgen(server, env, "--scenario", "connect", "--clients", "20", "--distinct-users",
                       "--mint-tickets", env["REDIS_URL"], "--mint-user", str(info["user_id"]))
    assert connect.get("error") is None and connect["connect_failures"] == {}, connect
    deadline = time.monotonic() + 5  # the connection log is written in batches
    while Connection.objects.count() < 20 and time.monotonic() < deadline:
        time.sleep(0.1)
    # crowd users exist only in their tickets: 20 sockets, none of them the bench user's
    assert Connection.objects.count() == 20
    assert not Connection.objects.filter(user_id=info["user_id"]).exists()


def test_loadgen_chat_rooms_delivers_every_stored_message_once_in_order(bench_server):
    server, env, info = bench_server
    rooms, = loadgen(server, env, "--scenario", "chat-rooms", "--rooms", "3", "--room-size", "4",
                     "--rate", "30", "--duration", "2", "--drain", "5",
                     "--mint-tickets", env["REDIS_URL"], "--mint-user", str(info["user_id"]))
    assert rooms.get("error") is None, rooms
    assert rooms["sent"] >= 50 and rooms["expected"] == rooms["sent"] * 3, rooms
    assert rooms["delivered"] == rooms["expected"] and rooms["delivered_share"] == 1.0, rooms
    assert rooms["out_of_order"] == 0 and rooms["seq_gaps"] == 0, rooms
    # every chat.send answered exactly once, none refused
    assert rooms["answered"] == rooms["sent"] and rooms["answered_twice"] == 0, rooms
    assert rooms["unanswered"] == 0 and rooms["refused"] == {}, rooms


def test_loadgen_chat_window_keeps_sends_in_flight_into_one_room(bench_server):
    server, env, info = bench_server
    window, = loadgen(server, env, "--scenario", "chat-window", "--clients", "20", "--senders", "2",
                      "--window", "5", "--duration", "1.5", "--drain", "5",
                      "--mint-tickets", env["REDIS_URL"], "--mint-user", str(info["user_id"]))
    assert window.get("error") is None, window
    # more than a socket's rate-limit burst: the raised limit (an env var) is what let it
    assert window["sent"] > 5 and window["answered"] == window["sent"], window
    assert window["delivered"] == window["expected"] == window["sent"] * 20, window
    assert window["out_of_order"] == 0 and window["seq_gaps"] == 0, window


class QuickServices:
    """What bench/run_all.py's run_entry needs of its services, on the test's database and
    Redis (run_all itself would make its own: a migration and collectstatic too long here)."""

    def __init__(self, env, user_id):
        self.redis_url, self.user_id = env["REDIS_URL"], user_id
        self._env = {k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "SWITCHBOARD_TESTING",
                                          "DJANGO_SETTINGS_MODULE", "REST_WRITE_RATE")}
        self.dir = None

    def env(self):
        return dict(self._env)

    def baseline_redis(self):
        return self.redis_url


def test_run_all_quick_runs_the_scale_out_row_on_a_redis_cluster(bench_server, tmp_path):
    _, env, info = bench_server
    svc = QuickServices(env, info["user_id"])
    svc.dir = str(tmp_path)
    entry, = [run_all.quick(e) for e in run_all.MATRIX if e["id"] == "scale-cluster-2proc"]
    row = run_all.run_entry(entry, svc, str(tmp_path / "servers.log"))
    assert row.get("error") is None, (row, (tmp_path / "servers.log").read_text()[-2000:])
    assert row["connect_failures"] == {} and row["clients"] == 20, row
    assert row["delivered"] == row["expected"] == 20 * 20 and row["lost"] == 0, row
    assert row["out_of_order"] == 0 and row["seq_gaps"] == 0, row
    assert "--mint-tickets redis+cluster://127.0.0.1:" in row["command"]


def test_quick_mode_shrinks_the_chat_rows():
    quick = {e["id"]: run_all.quick(e) for e in run_all.MATRIX}
    rooms, window = quick["ours-chat-rooms-1000"]["opts"], quick["ours-chat-1000x10"]["opts"]
    assert rooms[rooms.index("--rooms") + 1] == "3" and rooms[rooms.index("--rate") + 1] == "30"
    assert window[window.index("--senders") + 1] == "2"
    assert quick["ours-chat-1000x10"]["env"] == run_all.FAST_SENDER


def test_report_renders_rows_into_the_docs_block(tmp_path):
    doc = tmp_path / "performance.md"
    doc.write_text(f"# Performance\n\nprose\n\n{report.BEGIN}\nstale-block\n{report.END}\n\nmore prose\n")
    rows = [{"id": "ours-fanout-100", "target": "ours", "scenario": "fanout", "deliveries_per_s": 9000.0,
             "delivered": 10, "expected": 10, "lost": 0, "command": "$PY -m bench.loadgen --url "
             "ws://127.0.0.1:4321/ws --server-pid 99"},
            {"id": "baseline-fanout-100", "target": "baseline", "scenario": "fanout",
             "deliveries_per_s": 3000.0, "delivered": 10, "expected": 10, "lost": 0}]
    info = {"date": "today", "cpus": 2, "cpu": "x", "mem_gb": 1, "python": "3", "kernel": "k",
            "database": "postgres", "redis": "redis", "load_before": [0], "load_after": [0],
            "total_s": 1, "results": "r.jsonl"}
    report.rewrite_docs(report.render(rows, info), path=str(doc))
    text = doc.read_text()
    assert "prose" in text and "more prose" in text and "stale-block" not in text
    assert "| deliveries/s, 100 subs | 3.00× |" in text
    assert "ws://127.0.0.1:PORT/ws --server-pid PID" in text


def test_soak_clients_count_a_rooms_deliveries_in_seq_order_and_their_closes(bench_server):
    from django.contrib.auth import get_user_model
    from websockets.asyncio.client import connect

    from bench.soak_clients import Client, Run, send_steadily
    from realtime.auth import issue_ticket

    server, _, info = bench_server
    user = get_user_model().objects.get(pk=info["user_id"])
    tickets = [issue_ticket(user) for _ in range(3)]
    run = Run(1)

    async def soak():
        clients = []
        for ticket in tickets:
            client = Client(run, await connect(f"{server.ws_url}?ticket={ticket}"), "room:bench")
            assert (await client.request("subscribe", "room:bench", {}))["type"] == "reply"
            run.members["room:bench"] += 1
            clients.append(client)
        run.t0 = time.monotonic()
        await send_steadily(run, clients, argparse.Namespace(rate=20, duration=0.5))
        async with asyncio.timeout(20):  # deliveries in flight after the last answer
            while run.delivered < run.expected:
                await asyncio.sleep(0.05)
        await asyncio.gather(*(c.close() for c in clients))

    asyncio.run(soak())
    assert run.errors == {} and len(run.sent) >= 5, run.errors
    assert run.delivered == run.expected == len(run.sent) * 3
    assert run.disorder == 0 and run.closes == {"1000": 3}
    assert all(run.latency.values())
