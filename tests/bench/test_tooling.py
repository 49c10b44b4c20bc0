"""The bench tooling runs against the real server (a smoke test, not a measurement: no
figure is asserted beyond "every message arrived, in order")."""

import json
import subprocess
import sys

import pytest

from bench import report, setup_ours
from tests import servers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(90)]


@pytest.fixture
def bench_server(transactional_db):
    """One daphne on the test database with the bench user and room; (server, env)."""
    info = setup_ours.setup(boards=1)
    env = servers.server_env({"DATABASE_URL": servers.database_url(), "REST_WRITE_RATE": "100000/min"})
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
