"""Presence: one entry per user however many tabs, join/leave events, lease expiry."""

import asyncio
import contextlib
import uuid

import pytest
from asgiref.sync import sync_to_async

from realtime import presence
from tests.ws import connect_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]


async def test_join_and_leave_are_announced_once_per_user_not_per_tab(make_user, open_kind):
    alice = await sync_to_async(make_user)("alice")
    bob = await sync_to_async(make_user)("bob")
    async with connect_ws(alice) as watcher:
        reply = await watcher.request("subscribe", "open:room")
        assert [u["username"] for u in reply["presence"]] == ["alice"]
        async with connect_ws(bob) as tab1:
            reply = await tab1.request("subscribe", "open:room")
            assert [u["username"] for u in reply["presence"]] == ["alice", "bob"]
            join = await watcher.next_event()
            assert (join["event"], join["seq"]) == ("presence.join", None)
            # alice too when both joined within one window (a set union for the client)
            assert "bob" in {u["username"] for u in join["data"]["users"]} <= {"alice", "bob"}
            async with connect_ws(bob) as tab2:
                await tab2.request("subscribe", "open:room")
                assert await watcher.expect_silence(0.3)  # a second tab is not a new join
                listed = await watcher.request("presence", "open:room")
                assert [u["username"] for u in listed["presence"]] == ["alice", "bob"]
            assert await watcher.expect_silence(0.3)  # bob still has a tab open
        leave = await watcher.next_event()
        assert leave["event"] == "presence.leave" and \
            [u["username"] for u in leave["data"]["users"]] == ["bob"]
        listed = await watcher.request("presence", "open:room")
        assert [u["username"] for u in listed["presence"]] == ["alice"]


async def test_anonymous_readers_are_not_listed(user, open_kind):
    async with connect_ws(origin="http://localhost") as anon:
        reply = await anon.request("subscribe", "open:room")
        assert reply["presence"] == []


async def test_entries_whose_process_died_expire_and_are_announced(user, open_kind, settings):
    """A lease nobody renews (its process was killed) expires; a sweep announces the leave."""
    settings.REALTIME_PRESENCE_TTL = 0.5
    ghost = {"id": 999, "username": "ghost", "display_name": "Ghost"}
    assert await presence.join("open:room", ghost, "dead-connection")
    assert [u["id"] for u in await presence.members("open:room")] == [999]
    await asyncio.sleep(0.7)
    assert await presence.members("open:room") == []
    assert await presence.sweep("open:room") == [ghost]
    assert await presence.sweep("open:room") == []  # announced once


async def test_the_hub_heartbeat_sweeps_and_announces_dead_users(user, open_kind, settings):
    settings.REALTIME_PRESENCE_TTL = 0.5
    settings.REALTIME_HEARTBEAT_INTERVAL = 0.3
    async with connect_ws(user) as ws:
        await ws.request("subscribe", "open:room")
        ghost = {"id": 999, "username": "ghost", "display_name": "Ghost"}
        await presence.join("open:room", ghost, "dead-connection")
        leave = None
        for _ in range(20):
            event = await ws.next_event(timeout=3)
            if event["event"] == "presence.leave":
                leave = event
                break
        assert [u["username"] for u in leave["data"]["users"]] == ["ghost"]
        # The live user's own lease is renewed by the heartbeat, so alice stays.
        await asyncio.sleep(0.8)
        listed = await ws.request("presence", "open:room")
        assert [u["username"] for u in listed["presence"]] == ["alice"]


async def test_join_and_list_gives_the_first_flag_and_every_present_user_in_one_call(settings):
    settings.REALTIME_PRESENCE_LIST_MAX = 10_000
    topic = f"open:crowd-{uuid.uuid4().hex[:8]}"
    crowd = [{"id": i, "username": f"u{i}", "display_name": f"U{i}"} for i in range(1, 2502)]
    for info in crowd[:-1]:
        await presence.join(topic, info, f"conn-{info['id']}")
    first, count, members = await presence.join_and_list(topic, crowd[-1], "conn-last")
    assert first is True and count == 2501
    assert members == crowd  # by id, more than one HMGET chunk
    first, count, members = await presence.join_and_list(topic, crowd[-1], "conn-last-2")
    assert first is False and len(members) == 2501
    settings.REALTIME_PRESENCE_LIST_MAX = 2500  # above the cap: the count, no list
    assert await presence.join_and_list(topic, crowd[-1], "conn-last-3") == (False, 2501, None)


async def listed_in(ws, event, names):
    """Reads `event` frames until every one of `names` was listed; (names listed, frames)."""
    seen, frames = set(), 0
    while not names <= seen:
        got = await ws.next_event()
        assert got["event"] == event, got
        seen |= {u["username"] for u in got["data"]["users"]}
        frames += 1
    return seen, frames


async def test_a_crowd_joining_at_once_is_announced_in_a_few_events_not_one_each(make_user, open_kind):
    """A room reconnecting at once (a deploy): N joins to N subscribers were N² frames.
    Changes within REALTIME_PRESENCE_BATCH_SECONDS go out as one event listing every user."""
    watcher_user = await sync_to_async(make_user)("watcher")
    crowd = [await sync_to_async(make_user)(f"crowd{i}") for i in range(30)]
    names = {u.username for u in crowd}
    async with connect_ws(watcher_user) as watcher:
        await watcher.request("subscribe", "open:room")
        async with contextlib.AsyncExitStack() as stack:
            sockets = [await stack.enter_async_context(connect_ws(u)) for u in crowd]
            await asyncio.gather(*(ws.request("subscribe", "open:room") for ws in sockets))
            joined, events = await listed_in(watcher, "presence.join", names)
            assert joined - {"watcher"} == names  # the watcher's own window
            assert events <= 3, f"{events} join events for {len(crowd)} users"
            assert await watcher.expect_silence(0.3)
        left, events = await listed_in(watcher, "presence.leave", names)
        assert left == names and events <= 3
        listed = await watcher.request("presence", "open:room")
        assert [u["username"] for u in listed["presence"]] == ["watcher"]


async def test_within_a_window_only_a_users_latest_change_is_announced_if_redis_agrees():
    """Per user the latest change of the window, then checked against Redis: a leave of a
    user present again (reconnected to another process meanwhile) or a join of one gone
    again is dropped."""
    from realtime.announce import JOIN, LEAVE, PresenceAnnouncer

    sent = []

    async def send(topic, event, data, exclude):
        sent.append((topic, event, [u["id"] for u in data["users"]], exclude))

    bob, carol, dave, erin, fay = ({"id": i, "username": n, "display_name": n} for i, n in
                                   ((2, "bob"), (3, "carol"), (4, "dave"), (5, "erin"), (6, "fay")))
    for user in (carol, dave, erin):  # present in Redis when the window ends
        await presence.join("room:x", user, f"conn-{user['id']}")
    await presence.join("room:y", bob, "conn-y")
    announcer = PresenceAnnouncer(send, presence.present_and_count)
    announcer.change("room:x", JOIN, carol, "c3")
    announcer.change("room:x", JOIN, bob, "c2")
    announcer.change("room:x", LEAVE, bob)  # came and went: a leave
    announcer.change("room:x", LEAVE, dave)
    announcer.change("room:x", JOIN, dave, "c4")  # went and came back: a join
    announcer.change("room:x", LEAVE, erin)  # ...but erin is back (another process): dropped
    announcer.change("room:x", JOIN, fay, "c6")  # ...and fay is gone again: dropped
    announcer.change("room:y", JOIN, bob, "c-y")
    await announcer.flush("room:x")
    assert sent == [("room:x", LEAVE, [2], None), ("room:x", JOIN, [3, 4], None)]
    await asyncio.sleep(0.2)  # room:y's window ends by itself; a lone join skips its joiner
    assert sent[2:] == [("room:y", JOIN, [2], "c-y")]
    announcer.stop()
