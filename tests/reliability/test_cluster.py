"""Switchboard on a real Redis Cluster (three primaries, tests/redis_topologies.py) with two
daphne processes: topics spread over every shard (sharded pub/sub, realtime/layers.py),
every message reaches every subscriber on either process in order, exactly once, before
and after one primary is killed and started again."""

import asyncio
import os
import time

import pytest

from project import env
from realtime.registry import topic_group
from tests import servers
from tests.realtime.conftest import FAST_TIMERS
from tests.redis_topologies import cluster_setup
from tests.servers import connect_client

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True),
              pytest.mark.timeout(180)]

PER_TOPIC = 8  # messages per topic per phase


@pytest.fixture
def redis_cluster(tmp_path, settings, monkeypatch):
    """A three-primary cluster; this process (tickets, presence) and the servers started
    afterwards (their environment) use it.  The broker stays the session's own Redis:
    Celery has no Redis Cluster transport (docs/scaling.md)."""
    from realtime import redis as realtime_redis

    with cluster_setup(tmp_path / "cluster") as topo:
        for name, value in {**topo.env(), "CELERY_BROKER_URL": settings.CELERY_BROKER_URL}.items():
            monkeypatch.setitem(os.environ, name, value)
        topology = env.redis_topology(settings.VAR_DIR, testing=True)
        settings.REDIS_TOPOLOGY = topology
        settings.CHANNEL_LAYERS = {"default": env.channel_layer(topology, prefix="sb")}
        monkeypatch.setattr(realtime_redis, "_sync", {})
        monkeypatch.setattr(realtime_redis, "_async", type(realtime_redis._async)())
        yield topo


def spread_topics(topo, per_node=2):
    """Topics whose channel-layer groups fall on every node, `per_node` each."""
    topics, count = [], {i: 0 for i in range(len(topo.nodes))}
    n = 0
    while min(count.values()) < per_node:
        topic = f"open:shard-{n}"
        node = topo.node_for(f"sb__group__{topic_group(topic)}")
        if count[node] < per_node:
            count[node] += 1
            topics.append(topic)
        n += 1
    return topics


async def post(server, token, topic, n):
    """POST /api/publish/ until accepted (a 503 during the restart wrote nothing)."""
    deadline = time.monotonic() + 30
    while True:
        status, body = await asyncio.to_thread(server.post, "/api/publish/", {
            "topic": topic, "event": "notification", "data": {"n": n}}, token)
        if status == 202:
            return body["seq"]
        assert status == 503 and body["error"]["code"] == "unavailable", (status, body)
        assert time.monotonic() < deadline, "publishes refused for 30 s after the restart"
        await asyncio.sleep(0.2)


async def receive_all(client, topics, upto, timeout=30):
    """{topic: [n, ...]} of every notification until each topic reached seq `upto`."""
    got = {topic: [] for topic in topics}
    seqs = {topic: [] for topic in topics}
    deadline = time.monotonic() + timeout
    while any(len(seqs[t]) < upto for t in topics):
        event = await client.next_event(max(0.1, deadline - time.monotonic()))
        if event.get("event") == "notification":
            got[event["topic"]].append(event["data"]["n"])
            seqs[event["topic"]].append(event["seq"])
    return got, seqs


async def test_every_message_reaches_every_subscriber_in_order_across_shards_and_a_restart(
        redis_cluster, open_kind, user, staff_token):
    topo = redis_cluster
    topics = spread_topics(topo)
    assert {topo.node_for(f"sb__group__{topic_group(t)}") for t in topics} == {0, 1, 2}
    _, token = staff_token
    a, b = await asyncio.to_thread(servers.start_daphnes, 2, {
        "DATABASE_URL": servers.database_url(), **FAST_TIMERS}, servers.APP_WITH_OPEN_KIND)
    clients = []
    try:
        clients = [await connect_client(a, user), await connect_client(b, user)]
        for client in clients:
            for topic in topics:
                assert (await client.subscribe(topic))["seq"] == 0
        for n in range(PER_TOPIC):
            for i, topic in enumerate(topics):
                await post((a, b)[i % 2], token, topic, n)
        for client in clients:
            got, seqs = await receive_all(client, topics, PER_TOPIC)
            assert got == {t: list(range(PER_TOPIC)) for t in topics}
            assert seqs == {t: list(range(1, PER_TOPIC + 1)) for t in topics}

        victim = topo.node_for(f"sb__group__{topic_group(topics[0])}")
        await asyncio.to_thread(topo.restart, victim)  # kill -9, started again, empty
        for n in range(PER_TOPIC, 2 * PER_TOPIC):
            for i, topic in enumerate(topics):
                await post((a, b)[i % 2], token, topic, n)
        for client in clients:
            # Live, or from the outbox when the event went out while a node was down.
            got, seqs = await receive_all(client, topics, PER_TOPIC)
            assert got == {t: list(range(PER_TOPIC, 2 * PER_TOPIC)) for t in topics}
            assert seqs == {t: list(range(PER_TOPIC + 1, 2 * PER_TOPIC + 1)) for t in topics}
            assert await client.silent(0.5)
            assert not client.closed.is_set()
        # New handshakes work after the restart (tickets on the restarted shard or not).
        for server in (a, b):
            async with await connect_client(server, user) as late:
                assert (await late.subscribe(topics[0]))["seq"] == 2 * PER_TOPIC
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
        for server in (a, b):
            log = server.log()
            server.stop()
            print(f"--- {server.name} log ---\n{log[-20_000:]}")
