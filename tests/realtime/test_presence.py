"""Presence: one entry per user however many tabs, join/leave events, lease expiry."""

import asyncio
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
            assert (join["event"], join["seq"], join["data"]["user"]["username"]) == \
                ("presence.join", None, "bob")
            async with connect_ws(bob) as tab2:
                await tab2.request("subscribe", "open:room")
                assert await watcher.expect_silence(0.3)  # a second tab is not a new join
                listed = await watcher.request("presence", "open:room")
                assert [u["username"] for u in listed["presence"]] == ["alice", "bob"]
            assert await watcher.expect_silence(0.3)  # bob still has a tab open
        leave = await watcher.next_event()
        assert leave["event"] == "presence.leave" and leave["data"]["user"]["username"] == "bob"
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
        assert leave["data"]["user"]["username"] == "ghost"
        # The live user's own lease is renewed by the heartbeat, so alice stays.
        await asyncio.sleep(0.8)
        listed = await ws.request("presence", "open:room")
        assert [u["username"] for u in listed["presence"]] == ["alice"]


async def test_join_and_list_gives_the_first_flag_and_every_present_user_in_one_call():
    topic = f"open:crowd-{uuid.uuid4().hex[:8]}"
    crowd = [{"id": i, "username": f"u{i}", "display_name": f"U{i}"} for i in range(1, 2502)]
    for info in crowd[:-1]:
        await presence.join(topic, info, f"conn-{info['id']}")
    first, members = await presence.join_and_list(topic, crowd[-1], "conn-last")
    assert first is True
    assert members == crowd  # by id, more than one HMGET chunk
    first, members = await presence.join_and_list(topic, crowd[-1], "conn-last-2")
    assert first is False and len(members) == 2501
