"""Presence of a crowd: above REALTIME_PRESENCE_LIST_MAX a subscribe reply carries the
count and no list, changes arrive as coalesced presence.diff events with the count, and the
paged `presence` action lists every member exactly once."""

import contextlib

import pytest
from asgiref.sync import sync_to_async

from tests.ws import ProtocolErrorFrame, connect_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]

TOPIC = "open:room"


async def _users(make_user, names):
    return [await sync_to_async(make_user)(name) for name in names]


async def _next_presence_event(ws, timeout=5):
    while True:
        event = await ws.next_event(timeout=timeout)
        if event["event"].startswith("presence."):
            return event


async def test_above_the_cap_the_reply_has_the_count_and_no_list(make_user, open_kind, settings):
    settings.REALTIME_PRESENCE_LIST_MAX = 3
    users = await _users(make_user, ["u1", "u2", "u3", "u4", "u5"])
    async with contextlib.AsyncExitStack() as stack:
        replies = []
        for user in users:
            ws = await stack.enter_async_context(connect_ws(user))
            replies.append(await ws.request("subscribe", TOPIC))
        assert [r["presence_count"] for r in replies] == [1, 2, 3, 4, 5]
        # below (and at) the cap: the list, as before; above it: the count only
        assert [u["username"] for u in replies[2]["presence"]] == ["u1", "u2", "u3"]
        assert replies[3]["presence"] is None and replies[4]["presence"] is None


async def test_joins_and_leaves_above_the_cap_arrive_as_diffs_with_the_count(
        make_user, open_kind, settings):
    settings.REALTIME_PRESENCE_LIST_MAX = 3
    watcher_user, *others = await _users(make_user, ["w", "a", "b", "c", "d"])
    async with connect_ws(watcher_user) as watcher, contextlib.AsyncExitStack() as stack:
        await watcher.request("subscribe", TOPIC)
        for user in others[:2]:  # 3 present: still the list and join events with the count
            ws = await stack.enter_async_context(connect_ws(user))
            await ws.request("subscribe", TOPIC)
        seen = set()
        while len(seen) < 2:
            event = await _next_presence_event(watcher)
            assert event["event"] == "presence.join"
            seen |= {u["username"] for u in event["data"]["users"]} - {"w"}
        assert event["data"]["count"] == 3
        # c and d join together: the room passes the cap -> one coalesced diff
        late = []
        for user in others[2:]:
            ws = await stack.enter_async_context(connect_ws(user))
            late.append(ws)
        for ws in late:
            await ws.request("subscribe", TOPIC)
        joined, count = set(), None
        while joined != {"c", "d"}:
            event = await _next_presence_event(watcher)
            assert event["event"] == "presence.diff" and event["data"]["left"] == []
            joined |= {u["username"] for u in event["data"]["joined"]}
            count = event["data"]["count"]
        assert count == 5
        await late[0].close()
        event = await _next_presence_event(watcher)
        assert event["event"] == "presence.diff"
        assert ([u["username"] for u in event["data"]["left"]], event["data"]["joined"],
                event["data"]["count"]) == (["c"], [], 4)


async def test_the_paged_presence_action_returns_every_member_exactly_once(
        make_user, open_kind, settings):
    settings.REALTIME_PRESENCE_LIST_MAX = 3
    users = await _users(make_user, [f"p{i}" for i in range(8)])
    async with contextlib.AsyncExitStack() as stack:
        for user in users:
            ws = await stack.enter_async_context(connect_ws(user))
            await ws.request("subscribe", TOPIC)
        listed, after, pages = [], None, 0
        while True:
            page = await ws.request("presence", TOPIC, {"limit": 2, **({"after": after} if after else {})})
            assert page["count"] == 8 and len(page["presence"]) <= 2
            listed += [u["id"] for u in page["presence"]]
            pages += 1
            after = page["next"]
            if after is None:
                break
        assert pages == 4
        assert listed == sorted(u.pk for u in users)  # each once, by id
        # without a limit: a page of REALTIME_PRESENCE_LIST_MAX
        first = await ws.request("presence", TOPIC)
        assert len(first["presence"]) == 3 and first["next"] == first["presence"][-1]["id"]


@pytest.mark.parametrize("data", [{"limit": 0}, {"limit": 4}, {"limit": "2"}, {"after": -1},
                                  {"after": True}])
async def test_a_bad_page_request_is_refused_with_invalid(user, open_kind, settings, data):
    settings.REALTIME_PRESENCE_LIST_MAX = 3
    async with connect_ws(user) as ws:
        await ws.request("subscribe", TOPIC)
        with pytest.raises(ProtocolErrorFrame) as caught:
            await ws.request("presence", TOPIC, data)
        assert caught.value.code == "invalid"


async def test_below_the_cap_nothing_changes(make_user, open_kind, settings):
    settings.REALTIME_PRESENCE_LIST_MAX = 3
    alice, bob = await _users(make_user, ["alice", "bob"])
    async with connect_ws(alice) as watcher:
        await watcher.request("subscribe", TOPIC)
        async with connect_ws(bob) as ws:
            reply = await ws.request("subscribe", TOPIC)
            assert [u["username"] for u in reply["presence"]] == ["alice", "bob"]
            event = await _next_presence_event(watcher)
            assert event["event"] == "presence.join" and event["data"]["count"] == 2
            listed = await watcher.request("presence", TOPIC)
            assert ([u["username"] for u in listed["presence"]], listed["next"]) == (["alice", "bob"], None)
