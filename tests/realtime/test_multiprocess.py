"""The realtime layer across real server processes: two daphnes on one database and one
Redis, clients on real sockets (tests/servers.py)."""

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import sync_to_async

from realtime.models import Connection
from realtime.publish import publish
from realtime.tasks import sweep_connections
from tests.realtime.conftest import FAST_TIMERS
from tests.servers import connect_client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]

# Seconds the servers' heartbeat takes (tests/realtime/conftest.py FAST_TIMERS).
HEARTBEAT = 1.0
# Seconds an instance lease outlives its last renewal (FAST_TIMERS too).
STALE_AFTER = float(FAST_TIMERS["REALTIME_CONNECTION_STALE_AFTER"])


def seqs(events):
    return [e["seq"] for e in events]


async def publish_async(topic, data, event="notification"):
    return await sync_to_async(publish)(topic, event, data)


async def test_publishes_from_this_process_and_from_server_a_reach_a_subscriber_on_b(
        daphne, user, staff_token):
    server_a, server_b = daphne(2)
    _, token = staff_token
    async with await connect_client(server_b, user) as client:
        assert (await client.subscribe("open:cross"))["seq"] == 0
        assert await publish_async("open:cross", {"from": "test"}) == 1
        event = await client.next_event()
        assert event == {"type": "event", "topic": "open:cross", "event": "notification", "seq": 1,
                         "data": {"from": "test"}}
        status, body = await asyncio.to_thread(server_a.post, "/api/publish/", {
            "topic": "open:cross", "event": "notification", "data": {"from": "a"}}, token)
        assert (status, body) == (202, {"seq": 2, "delivered_to": "open:cross"})
        event = await client.next_event()
        assert (event["seq"], event["data"]) == (2, {"from": "a"})
        assert await client.silent(0.5)


async def test_resume_on_the_other_process_delivers_exactly_the_missed_events_in_order(daphne, user):
    server_a, server_b = daphne(2)
    client = await connect_client(server_a, user)
    await client.subscribe("open:resume")
    for n in range(1, 4):
        await publish_async("open:resume", {"n": n})
    seen = await client.collect(lambda e: e["seq"] == 3)
    assert seqs(seen) == [1, 2, 3]
    await client.close()  # the network drops; five events happen meanwhile
    for n in range(4, 9):
        await publish_async("open:resume", {"n": n})
    async with await connect_client(server_b, user) as client:
        reply = await client.subscribe("open:resume", since=3)
        assert (reply["seq"], reply["recovered"]) == (8, True)
        replayed = await client.collect(lambda e: e["seq"] == 8)
        assert seqs(replayed) == [4, 5, 6, 7, 8]
        assert [e["data"]["n"] for e in replayed] == [4, 5, 6, 7, 8]
        assert await client.silent(0.7)  # no duplicate from the live path or the poll
        await publish_async("open:resume", {"n": 9})
        assert seqs([await client.next_event()]) == [9]
        assert await client.silent(0.7)


async def test_concurrent_publishes_on_two_processes_reach_subscribers_gap_free_and_in_order(
        daphne, user, staff_token):
    """Both processes commit to one topic at once; every subscriber (on either process)
    sees seq 1..N once each, in order, even when a live event arrives ahead of another."""
    total, per_thread = 320, 40  # 8 threads, 4 to each server
    server_a, server_b = daphne(2)
    _, token = staff_token
    clients = [await connect_client(server, user) for server in (server_a, server_b, server_a)]
    for client in clients:
        await client.subscribe("open:race")

    def post_many(server, thread):
        for n in range(per_thread):
            status, body = server.post("/api/publish/", {"topic": "open:race", "event": "notification",
                                                         "data": {"t": thread, "n": n}}, token)
            assert status == 202, body

    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(8) as pool:
        await asyncio.gather(*(loop.run_in_executor(pool, post_many, (server_a, server_b)[t % 2], t)
                               for t in range(8)))
    try:
        for client in clients:
            got = await client.collect(lambda e: e["seq"] == total, timeout=15)
            # (a presence.join of another tab may come first: ephemeral, no seq)
            got = [e for e in got if e["event"] == "notification"]
            assert seqs(got) == list(range(1, total + 1))
            assert await client.silent(0.3)
        by_thread = {}
        for event in got:
            by_thread.setdefault(event["data"]["t"], []).append(event["data"]["n"])
        assert all(ns == list(range(per_thread)) for ns in by_thread.values())  # per-thread order
    finally:
        for client in clients:
            await client.close()


async def test_presence_spans_processes_and_a_killed_process_leaves_within_two_heartbeats(
        daphne, make_user):
    alice, bob = await sync_to_async(make_user)("alice"), await sync_to_async(make_user)("bob")
    server_a, server_b = daphne(2)
    async with await connect_client(server_a, alice) as watcher:
        reply = await watcher.subscribe("open:lobby")
        assert [u["username"] for u in reply["presence"]] == ["alice"]
        bob_client = await connect_client(server_b, bob)
        reply = await bob_client.subscribe("open:lobby")
        assert [u["username"] for u in reply["presence"]] == ["alice", "bob"]
        join = await watcher.next_event()
        assert (join["event"], join["seq"], [u["username"] for u in join["data"]["users"]]) == \
            ("presence.join", None, ["bob"])
        listed = await watcher.request("presence", "open:lobby")
        assert [u["username"] for u in listed["presence"]] == ["alice", "bob"]
        await asyncio.sleep(1.5 * HEARTBEAT)  # a few lease renewals by both processes
        assert await sync_to_async(Connection.objects.filter(
            user=bob, closed_at__isnull=True).count)() == 1

        server_b.kill9()
        killed = time.monotonic()
        while True:  # the entry expires with its lease: nobody cleans up for B
            listed = await watcher.request("presence", "open:lobby")
            if [u["username"] for u in listed["presence"]] == ["alice"]:
                break
            assert time.monotonic() - killed < 2 * HEARTBEAT + 0.5, "bob still present"
            await asyncio.sleep(0.1)
        leave = await watcher.next_event(timeout=3 * HEARTBEAT + 1 - (time.monotonic() - killed))
        assert (leave["event"], leave["seq"], [u["username"] for u in leave["data"]["users"]]) == \
            ("presence.leave", None, ["bob"])
        assert await watcher.silent(1.5 * HEARTBEAT)  # announced once, by one process

        # The sweep closes B's rows once B's instance lease lapsed (no longer renewed, it
        # ends STALE_AFTER after B's last renewal, at most a heartbeat before the kill);
        # A's live rows stay open.
        deadline = killed + STALE_AFTER + HEARTBEAT + 2
        while not (swept := await sync_to_async(sweep_connections)()):
            assert time.monotonic() < deadline, "B's lease never lapsed"
            await asyncio.sleep(0.1)
        assert swept == 1
        bob_row = await sync_to_async(Connection.objects.get)(user=bob)
        assert bob_row.closed_at is not None and bob_row.close_code == 1006
        assert await sync_to_async(Connection.objects.filter(
            user=alice, closed_at__isnull=True).count)() == 1
        assert await sync_to_async(sweep_connections)() == 0  # idempotent
        await asyncio.wait_for(bob_client.closed.wait(), 5)  # B's socket died with it
        await bob_client.close()


async def test_a_server_shutting_down_closes_its_sockets_1001_and_clients_resume_elsewhere(daphne, user):
    import asyncio
    import signal

    server_a, server_b = daphne(2)
    client = await connect_client(server_a, user)
    await client.subscribe("open:shutdown")
    await publish_async("open:shutdown", {"n": 1})
    assert seqs(await client.collect(lambda e: e["seq"] == 1)) == [1]
    server_a.proc.send_signal(signal.SIGTERM)  # a deploy or restart
    await asyncio.wait_for(client.closed.wait(), 10)
    assert client.close_code == 1001  # "going away": reconnect elsewhere
    await publish_async("open:shutdown", {"n": 2})
    async with await connect_client(server_b, user) as again:
        reply = await again.subscribe("open:shutdown", since=1)
        assert reply["recovered"] is True
        assert seqs(await again.collect(lambda e: e["seq"] == 2)) == [2]
