"""A Redis primary killed (kill -9) under load, with Sentinel promoting its replica
(tests/redis_topologies.py: a primary, a replica, three sentinels).  Two daphne processes
and a Celery worker (broker: kombu's sentinel:// transport) all follow the new primary
without a restart.  Events are posted continuously over REST and ingested by the worker;
every client ends with every accepted event exactly once, in order; a POST refused during
the failover is a 503 `unavailable` that wrote nothing; new handshakes succeed within
the failover time plus 2 s; /readyz says 503 while Redis is unreachable and 200 after."""

import asyncio
import os
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from asgiref.sync import sync_to_async

from project import env
from tests import servers
from tests.feeds.conftest import Worker, make_event
from tests.realtime.conftest import FAST_TIMERS
from tests.redis_topologies import sentinel_setup

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True),
              pytest.mark.timeout(240)]

# Seconds between two POSTs of the load (alternating between the two servers).
POST_INTERVAL = 0.1
# Seconds a handshake may take beyond the failover itself (the bound).
HANDSHAKE_SLACK = 2.0


@pytest.fixture
def redis_sentinel(tmp_path, settings, monkeypatch):
    """Primary, replica, three sentinels; this process and everything started afterwards
    (servers, worker: their environment) use them, the Celery broker included."""
    from realtime import redis as realtime_redis

    with sentinel_setup(tmp_path / "sentinel") as topo:
        for name, value in topo.env().items():
            monkeypatch.setitem(os.environ, name, value)
        monkeypatch.delitem(os.environ, "CELERY_BROKER_URL", raising=False)
        topology = env.redis_topology(settings.VAR_DIR, testing=True)
        settings.REDIS_TOPOLOGY = topology
        settings.CHANNEL_LAYERS = {"default": env.channel_layer(topology, prefix="sb")}
        monkeypatch.setattr(realtime_redis, "_sync", {})
        monkeypatch.setattr(realtime_redis, "_async", type(realtime_redis._async)())
        yield topo


def _setup():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from rest_framework.authtoken.models import Token

    from feeds.models import Feed

    Feed.objects.create(slug="news", title="News", is_public=True)
    users = get_user_model().objects
    ingester = users.create_user("ingester", password="x")
    ingester.user_permissions.add(Permission.objects.get(codename="ingest_events",
                                                         content_type__app_label="feeds"))
    readers = [users.create_user(f"reader{i}", password="x") for i in range(2)]
    return readers, Token.objects.create(user=ingester).key


class ReadyzProbe(threading.Thread):
    """GET /readyz every 0.1 s; records (asked at, answered at, status) in monotonic time."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.url, self.samples, self.stopped = server.url + "/readyz", [], threading.Event()

    def run(self):
        while not self.stopped.is_set():
            started = time.monotonic()  # the sample's time: when the probe asked
            try:
                with urllib.request.urlopen(self.url, timeout=5) as response:
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except OSError:
                status = None
            self.samples.append((started, time.monotonic(), status))
            self.stopped.wait(0.1)


async def first_handshake(server, user, since, timeout=30):
    """Connects (ticket, socket, subscribe) until it works; returns the time it did."""
    deadline = since + timeout
    while time.monotonic() < deadline:
        try:
            async with await servers.connect_client(server, user, timeout=3) as client:
                await client.subscribe("feed:news", timeout=3)
                return time.monotonic()
        except Exception:  # Redis unreachable: the ticket or the handshake is refused
            await asyncio.sleep(0.05)
    raise AssertionError(f"no handshake on {server.name} within {timeout} s of the kill")


def item_ids(event):
    data = event.get("data", {})
    return [item["external_id"] for item in data.get("items", [data.get("item")]) if item]


async def test_killing_the_primary_loses_no_accepted_event_and_handshakes_resume(
        redis_sentinel, open_kind):
    topo = redis_sentinel
    readers, token = await sync_to_async(_setup)()
    common = {"DATABASE_URL": servers.database_url(), **FAST_TIMERS}
    worker = Worker([sys.executable, "-m", "celery", "-A", "project", "worker", "-P", "prefork",
                     "-c", "1", "--without-mingle", "--without-gossip", "-l", "info",
                     "-n", f"sentinel-{os.getpid()}@%h"], servers.server_env(common), "worker")
    a, b = await asyncio.to_thread(servers.start_daphnes, 2, common)
    probe = ReadyzProbe(a)
    clients, accepted, accepted_at, refused = [], [], [], []
    try:
        await asyncio.to_thread(worker.wait_ready)
        clients = [await servers.connect_client(a, readers[0]),
                   await servers.connect_client(b, readers[1])]
        for client in clients:
            assert (await client.subscribe("feed:news"))["seq"] == 0
        probe.start()
        stop = asyncio.Event()

        async def load():
            n = 0
            while not stop.is_set():
                server = (a, b)[n % 2]
                status, body = await asyncio.to_thread(
                    server.post, "/api/events/", {"events": [make_event(id=f"e{n}")]}, token)
                if status == 202:
                    accepted.append(f"e{n}")
                    accepted_at.append(time.monotonic())
                else:
                    assert status == 503 and body["error"]["code"] == "unavailable", (status, body)
                    refused.append(f"e{n}")
                n += 1
                await asyncio.sleep(POST_INTERVAL)

        loader = asyncio.ensure_future(load())
        await asyncio.sleep(2)
        deadline = time.monotonic() + 20
        while not probe.samples and time.monotonic() < deadline:  # one answer before the kill
            await asyncio.sleep(0.1)
        killed = topo.kill_primary()
        handshakes = asyncio.gather(first_handshake(a, readers[0], killed),
                                    first_handshake(b, readers[1], killed))
        promoted = await asyncio.to_thread(topo.wait_failover)
        handshake_times = await handshakes
        await asyncio.sleep(3)  # load after the failover too
        stop.set()
        await loader

        failover = promoted - killed
        for at in handshake_times:
            assert at - killed <= failover + HANDSHAKE_SLACK, (at - killed, failover)
        # Events were accepted before the kill and after the failover (a slow machine
        # posts fewer, hence no fixed count).
        assert min(accepted_at) < killed < promoted < max(accepted_at), (accepted, refused)

        # Every accepted event, exactly once, in seq order, on both processes' sockets.
        for client in clients:
            deadline, seen, events = time.monotonic() + 60, [], []
            while set(accepted) - set(seen) and time.monotonic() < deadline:
                event = await client.next_event(deadline - time.monotonic())
                if event.get("type") == "event":
                    events.append(event)
                    seen += item_ids(event)
            assert sorted(seen) == sorted(accepted), (set(accepted) - set(seen), len(refused))
            assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
            assert not client.closed.is_set()

        # Readiness: 200 before the kill, 200 at the end; a 503 only inside the outage.
        probe.stopped.set()
        await asyncio.to_thread(probe.join)
        # A probe asked before the kill but still running when it came overlaps the outage:
        # "before" is what was answered before the kill.
        before = [s for _, done, s in probe.samples if done < killed]
        after = [s for t, _, s in probe.samples if t > max(handshake_times) + 1]
        assert before and set(before) == {200}, before
        assert after and after[-1] == 200, after
        during = {s for t, done, s in probe.samples if done >= killed and t <= max(handshake_times)}
        assert during <= {200, 503}, during
        print(f"failover {failover:.2f} s, handshakes {[round(t - killed, 2) for t in handshake_times]}, "
              f"accepted {len(accepted)}, refused {len(refused)}, readyz during {sorted(during)}")
    finally:
        probe.stopped.set()
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
        for process in (a, b, worker):
            log = process.log()
            process.stop()
            print(f"--- {process.name} log ---\n{log[-20_000:]}")
