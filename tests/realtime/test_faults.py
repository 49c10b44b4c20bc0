"""Fault injection against real processes: a Redis restart mid-session, long-idle
subscribers, a burst from a worker process.  Slow; run with
`.venv/bin/python -m pytest -m faults --run-faults tests/realtime`."""

import asyncio
import itertools
import time

import pytest
from asgiref.sync import sync_to_async

from realtime.publish import publish
from tests.servers import connect_client, run_python

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def seqs(events):
    return [e["seq"] for e in events if e.get("seq") is not None]


async def connect_many(server, users, count, topic, batch=50):
    """count clients on server (round-robin over users), each subscribed to topic."""
    clients = []
    cycle = itertools.cycle(users)
    for start in range(0, count, batch):
        group = await asyncio.gather(*(connect_client(server, next(cycle))
                                       for _ in range(min(batch, count - start))))
        await asyncio.gather(*(client.subscribe(topic, timeout=30) for client in group))
        clients.extend(group)
    return clients


async def close_all(clients):
    await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)


async def wait_for_seq(client, last, timeout):
    return seqs(await client.collect(lambda e: e.get("seq") == last, timeout=timeout))


@pytest.mark.timeout(120)
async def test_a_redis_restart_mid_session_loses_no_event_and_the_live_path_recovers(
        throwaway_redis, daphne, make_user):
    alice, bob, carol = [await sync_to_async(make_user)(name) for name in ("alice", "bob", "carol")]
    server_a, server_b = daphne(2)
    on_a, on_b = await connect_client(server_a, alice), await connect_client(server_b, bob)
    clients = [on_a, on_b]
    try:
        for client in clients:
            await client.subscribe("open:storm")
        await on_a.next_event()  # bob's presence.join
        for n in range(1, 6):
            await sync_to_async(publish)("open:storm", "notification", {"n": n})
        for client in clients:
            assert await wait_for_seq(client, 5, 5) == [1, 2, 3, 4, 5]

        throwaway_redis.stop()
        for n in range(6, 11):  # committed to the outbox; the sends fail and are logged
            await sync_to_async(publish)("open:storm", "notification", {"n": n})
        await asyncio.sleep(1.5)
        throwaway_redis.start()  # empty: no presence, no subscriptions survive
        for n in range(11, 16):
            await sync_to_async(publish)("open:storm", "notification", {"n": n})
        for client in clients:
            got = await wait_for_seq(client, 15, 15)
            assert got[-10:] == list(range(6, 16)) and len(got) == 10, got
            assert not client.closed.is_set()  # the sockets never depended on Redis

        # The live path is back (ephemeral events are never read from the outbox).
        deadline, arrived = time.monotonic() + 15, set()
        while len(arrived) < 2 and time.monotonic() < deadline:
            await sync_to_async(publish)("open:storm", "notification", {"live": True}, ephemeral=True)
            await asyncio.sleep(0.5)
            for index, client in enumerate(clients):
                while not client.events.empty():
                    event = client.events.get_nowait()
                    if event["seq"] is None and event["data"] == {"live": True}:
                        arrived.add(index)
        assert arrived == {0, 1}, "the hubs' Redis subscriptions did not come back"

        # Presence is rebuilt by the heartbeats of the live connections.
        deadline = time.monotonic() + 5
        while True:
            listed = await on_a.request("presence", "open:storm")
            if [u["username"] for u in listed["presence"]] == ["alice", "bob"]:
                break
            assert time.monotonic() < deadline, f"presence after the restart: {listed}"
            await asyncio.sleep(0.25)

        async with await connect_client(server_b, carol) as late:  # tickets work again
            reply = await late.subscribe("open:storm", since=4)
            assert (reply["seq"], reply["recovered"]) == (15, True)
            assert await wait_for_seq(late, 15, 5) == list(range(5, 16))
    finally:
        await close_all(clients)


@pytest.mark.timeout(240)
async def test_500_idle_subscribers_for_60s_all_receive_the_next_publish(daphne, make_user):
    """Guards the redis-py socket_timeout trap: a pub/sub read that times out while idle
    silently drops the process's subscription.  The outbox poll is turned off so only the
    live path can deliver."""
    users = [await sync_to_async(make_user)(f"idle{n}") for n in range(5)]
    (server,) = daphne(1, REALTIME_OUTBOX_POLL_INTERVAL="3600", REALTIME_HEARTBEAT_INTERVAL="15",
                       REALTIME_IDLE_TIMEOUT="600")
    clients = await connect_many(server, users, 500, "open:idle")
    try:
        await asyncio.sleep(60)
        for client in clients:  # the presence joins of the five users
            while not client.events.empty():
                client.events.get_nowait()
        assert not any(client.closed.is_set() for client in clients)
        seq = await sync_to_async(publish)("open:idle", "notification", {"after": "idle"})
        await sync_to_async(publish)("open:idle", "notification", {"ephemeral": True}, ephemeral=True)
        results = await asyncio.gather(*(client.collect(lambda e: e["seq"] is None, timeout=15)
                                         for client in clients))
        missing = [i for i, got in enumerate(results)
                   if [(e["seq"], e["data"]) for e in got if e["event"] == "notification"]
                   != [(seq, {"after": "idle"}), (None, {"ephemeral": True})]]
        assert not missing, f"{len(missing)} of 500 subscribers missed the publish"
    finally:
        await close_all(clients)


BURST = """
from realtime.publish import publish
from tests.servers import register_open_kind

register_open_kind()
for n in range(1, 1001):
    publish("open:burst", "notification", {"n": n})
print("published")
"""


@pytest.mark.timeout(120)
async def test_a_burst_of_1000_publishes_from_a_worker_process_reaches_100_subscribers_in_order(
        daphne, make_user):
    users = [await sync_to_async(make_user)(f"reader{n}") for n in range(4)]
    server_a, server_b = daphne(2)
    clients = await connect_many(server_a, users, 50, "open:burst") + \
        await connect_many(server_b, users, 50, "open:burst")
    try:
        from tests.servers import database_url

        env = {"DATABASE_URL": await sync_to_async(database_url)()}
        assert "published" in await asyncio.to_thread(run_python, BURST, env, 90)
        results = await asyncio.gather(*(wait_for_seq(client, 1000, 30) for client in clients))
        broken = [i for i, got in enumerate(results) if got != list(range(1, 1001))]
        assert not broken, f"{len(broken)} of 100 subscribers saw gaps, repeats or reordering"
    finally:
        await close_all(clients)
