"""The Python client library (clients/python, `switchboard_client`) against real daphne
processes: requests and typed errors, subscriptions resumed across a killed and restarted
server, a lost history surfaced as a Gap, the blocking facade, and the mirror example run as
a script.  Close codes, pings and identity renewal: test_python_client_sessions.py."""

import asyncio
import queue
import subprocess
import sys
import threading

import pytest
from switchboard_client import (
    Client,
    Event,
    Gap,
    Invalid,
    NotSubscribed,
    RateLimited,
    SyncClient,
    Unauthenticated,
    UnknownAction,
    UnknownTopic,
)

from realtime.publish import publish
from tests.clients.helpers import FAST, publish_async, take, wait_until
from tests.servers import ROOT

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(90)]


async def test_request_returns_the_reply_and_an_error_frame_raises_its_typed_exception(site, token):
    server = site.start()
    async with Client(server.url, token=token) as client:
        assert isinstance((await client.request("ping"))["pong"], int)
        with pytest.raises(UnknownTopic) as info:
            await client.request("subscribe", "nosuchkind:x")
        assert (info.value.code, info.value.field) == ("unknown_topic", "topic")
        with pytest.raises(UnknownAction) as info:
            await client.request("no.such.action")
        assert info.value.code == "unknown_action"
        with pytest.raises(NotSubscribed):
            await client.request("unsubscribe", "open:x")
        with pytest.raises(Invalid) as info:
            await client.request("subscribe", "open:x", {"since": "soon"})
        assert (info.value.code, info.value.field) == ("invalid", "data.since")
        assert (await client.request("subscribe", "open:x"))["recovered"] is False  # still usable
        assert client.connects == 1

    with pytest.raises(Unauthenticated) as info:  # a bad token is final: no reconnect loop
        await Client(server.url, token="not-a-token", **FAST).connect()
    assert info.value.status == 401


async def test_rate_limited_carries_the_servers_retry_after(site, token):
    server = site.start(REALTIME_RATE_PER_SECOND="1", REALTIME_RATE_BURST="3")
    async with Client(server.url, token=token) as client:
        results = await asyncio.gather(*(client.request("ping") for _ in range(8)), return_exceptions=True)
        limited = [r for r in results if isinstance(r, RateLimited)]
        # A burst of 3, one spent on the client's own ping at connect: at least 4 refused.
        assert len(limited) >= 4 and all(r.code == "rate_limited" and r.retry_after > 0 for r in limited)
        assert all("pong" in r for r in results if not isinstance(r, RateLimited))


async def test_subscribe_yields_events_in_seq_order_after_the_reply(site, token, user):
    server = site.start()
    async with Client(server.url, token=token) as client:
        sub = client.subscribe("open:feed")
        reply = await sub.ready()
        assert (reply["seq"], reply["recovered"], [u["username"] for u in reply["presence"]]) == \
            (0, False, ["alice"])
        for n in range(1, 4):
            await publish_async("open:feed", {"n": n})
        items = await take(sub, 3)
        assert items == [Event("open:feed", "notification", n, {"n": n}) for n in range(1, 4)]
        assert sub.seen_seq == 3
        await sub.close()
        with pytest.raises(StopAsyncIteration):
            await anext(sub)


async def test_a_killed_and_restarted_server_loses_and_repeats_no_event_of_a_busy_topic(site, token):
    """A publisher keeps publishing while the server is killed and comes back on the same
    port: the client reconnects and resumes with since; the subscriber sees 1..N once each."""
    server = site.start()
    async with Client(server.url, token=token, **FAST) as client:
        sub = client.subscribe("open:busy")
        await sub.ready()
        published, stop = [], asyncio.Event()

        async def publisher():
            while not stop.is_set():
                published.append(await publish_async("open:busy", {"n": len(published) + 1}))
                await asyncio.sleep(0.01)

        task = asyncio.create_task(publisher())
        got = await take(sub, 10)
        await asyncio.to_thread(site.restart, server)
        await wait_until(lambda: client.connects == 2 and client.state == "connected")
        count_at_reconnect = len(published)
        await wait_until(lambda: len(published) >= count_at_reconnect + 10)  # and some live ones
        stop.set()
        await task
        got += await take(sub, len(published) - len(got))
        assert [e.seq for e in got] == published == list(range(1, len(published) + 1))
        assert [e.data["n"] for e in got] == published
        assert client.close_code == 1006  # the socket died with the process
        with pytest.raises(TimeoutError):  # and nothing more (no duplicate) arrives
            await asyncio.wait_for(anext(sub), 0.7)


async def test_a_history_the_server_cannot_replay_is_yielded_as_a_gap(site, token):
    server = site.start(REALTIME_MAX_REPLAY="3")
    async with Client(server.url, token=token, **FAST) as client:
        sub = client.subscribe("open:gap")
        await sub.ready()
        await publish_async("open:gap", {"n": 1})
        assert [e.seq for e in await take(sub, 1)] == [1]
        server.kill9()
        for n in range(2, 7):  # five missed events: more than the server replays
            await publish_async("open:gap", {"n": n})
        await asyncio.to_thread(site.start, server.port, REALTIME_MAX_REPLAY="3")
        [gap] = await take(sub, 1)
        assert isinstance(gap, Gap)
        assert (gap.topic, gap.since, gap.seq, gap.reply["recovered"]) == ("open:gap", 1, 6, False)
        await publish_async("open:gap", {"n": 7})
        [event] = await take(sub, 1)
        assert (event.seq, event.data) == (7, {"n": 7})
        assert sub.seen_seq == 7


def test_the_sync_client_works_from_a_plain_thread(site, token):
    server = site.start()
    out, subscribed = queue.Queue(), threading.Event()

    def worker():
        try:
            with SyncClient(server.url, token=token) as client:
                out.put(("pong", client.request("ping")))
                sub = client.subscribe("open:sync")
                sub.ready(timeout=10)
                try:
                    sub.get(timeout=0.2)
                except TimeoutError:
                    out.put(("nothing yet", None))
                subscribed.set()
                for item in sub:
                    out.put(("event", item))
                    if item.seq == 3:
                        break
        except BaseException as exc:
            out.put(("error", exc))
        out.put(("done", None))

    thread = threading.Thread(target=worker)
    thread.start()
    assert subscribed.wait(20)
    for n in range(1, 4):
        publish("open:sync", "notification", {"n": n})
    thread.join(20)
    assert not thread.is_alive()
    results = []
    while not out.empty():
        results.append(out.get())
    assert [kind for kind, _ in results] == ["pong", "nothing yet", "event", "event", "event", "done"]
    assert [item.data["n"] for kind, item in results if kind == "event"] == [1, 2, 3]


def test_the_mirror_example_survives_a_server_restart_without_losing_or_repeating(site, token, user):
    from chat import services

    room = services.room_create(creator=user, slug="mirror", name="Mirror")
    server = site.start()
    script = ROOT / "clients" / "python" / "examples" / "mirror_room.py"
    proc = subprocess.Popen([sys.executable, str(script), "--url", server.url, "--room", "mirror",
                             "--since", "0", "--count", "9"], env={"SWITCHBOARD_TOKEN": token,
                                                                   "PATH": "/usr/bin:/bin"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True)
    reader.start()
    try:
        def send(n):
            services.message_create(room=room, author=user, body=f"m{n}")

        def printed(count):
            return [__import__("json").loads(lines.get(timeout=20)) for _ in range(count)]

        for n in range(1, 4):
            send(n)
        seen = printed(3)
        server.kill9()
        for n in range(4, 7):  # while the server is down
            send(n)
        server = site.start(port=server.port)
        for n in range(7, 10):
            send(n)
        seen += printed(6)
        assert proc.wait(timeout=30) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert [m["body"] for m in seen] == [f"m{n}" for n in range(1, 10)]
    assert len({m["id"] for m in seen}) == 9
    assert [m["seq"] for m in seen] == sorted(m["seq"] for m in seen)
