"""The board's socket actions end to end: events reach the others, conflicts, strokes,
cursors (rate limited), permissions and the late joiner's snapshot + since."""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from tests.whiteboard.conftest import new_shape
from tests.ws import ProtocolErrorFrame, connect_ws
from whiteboard.handlers import CURSOR_MAX_PER_SECOND, CURSOR_MIN_INTERVAL, user_colour

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]


def topic(room):
    return f"board:{room.slug}"


async def board_event(ws, timeout=5.0):
    """The next board.* event (presence frames are skipped)."""
    while True:
        frame = await ws.next_event(timeout)
        if frame.get("type") == "event" and frame["event"].startswith("board."):
            return frame


async def frames_until_quiet(ws, quiet=0.3):
    """Every frame until nothing arrives for `quiet` seconds.  (A timed-out receive
    would cancel the application, so silence is detected with receive_nothing.)"""
    found = []
    while True:
        if ws.events:
            found.append(ws.events.pop(0))
        elif await ws.comm.receive_nothing(quiet):
            return found
        else:
            found.append(await ws.receive())


async def board_events_until_quiet(ws, quiet=0.3):
    return [f for f in await frames_until_quiet(ws, quiet)
            if f.get("type") == "event" and f["event"].startswith("board.")]


async def no_board_event(ws, quiet=0.4):
    found = await board_events_until_quiet(ws, quiet)
    assert found == [], f"unexpected {found}"
    return True


async def error_of(coro):
    with pytest.raises(ProtocolErrorFrame) as info:
        await coro
    return info.value.error


async def test_draw_erase_clear_reach_every_subscriber(room, user, make_user):
    bob = await sync_to_async(make_user)()
    async with connect_ws(user) as alice_ws, connect_ws(bob) as bob_ws:
        await alice_ws.request("subscribe", topic(room))
        await bob_ws.request("subscribe", topic(room))
        shape = new_shape("rect")
        reply = await alice_ws.request("board.draw", topic(room), {"shape": shape})
        assert reply["shape"]["id"] == shape["id"] and reply["shape"]["version"] == 1
        event = await board_event(bob_ws)
        assert (event["event"], event["seq"], event["data"]) == ("board.shape", 1, reply)
        assert (await board_event(alice_ws))["data"] == reply

        erased = await bob_ws.request("board.erase", topic(room), {"id": shape["id"]})
        assert erased == {"id": shape["id"], "version": 2}
        assert (await board_event(alice_ws))["data"] == erased
        assert (await board_event(bob_ws))["data"] == erased

        await alice_ws.request("board.draw", topic(room), {"shape": new_shape("note")})
        assert (await board_event(bob_ws))["event"] == "board.shape"
        error = await error_of(bob_ws.request("board.clear", topic(room)))
        assert error["code"] == "forbidden"
        assert await alice_ws.request("board.clear", topic(room)) == {"erased": 1}
        event = await board_event(bob_ws)
        assert (event["event"], event["data"], event["seq"]) == ("board.cleared", {}, 4)


async def test_stale_draw_gets_a_conflict_frame_with_the_current_shape(room, user, make_user):
    bob = await sync_to_async(make_user)()
    async with connect_ws(user) as alice_ws, connect_ws(bob) as bob_ws:
        shape = new_shape("line")
        await alice_ws.request("board.draw", topic(room), {"shape": shape})
        moved = dict(shape, version=1, data={**shape["data"], "points": [[1, 1], [2, 2]]})
        await bob_ws.request("board.draw", topic(room), {"shape": moved})
        stale = dict(shape, version=1, data={**shape["data"], "color": "#000000"})
        error = await error_of(alice_ws.request("board.draw", topic(room), {"shape": stale}))
        assert error["code"] == "conflict" and error["field"] == "shape.version"
        assert error["data"]["shape"]["version"] == 2
        assert error["data"]["shape"]["data"]["points"] == [[1, 1], [2, 2]]
        bad = new_shape("stroke")
        bad["data"]["points"][1] = [1, "x"]
        error = await error_of(alice_ws.request("board.draw", topic(room), {"shape": bad}))
        assert (error["code"], error["field"]) == ("invalid", "shape.data.points.1")
        error = await error_of(alice_ws.request("board.draw", topic(room), {}))
        assert (error["code"], error["field"]) == ("invalid", "shape")


async def test_stroke_points_go_to_the_others_with_who_is_drawing(room, user, make_user):
    bob = await sync_to_async(make_user)()
    async with connect_ws(user) as alice_ws, connect_ws(bob) as bob_ws:
        shape = new_shape("stroke")
        data = {"id": shape["id"], "points": [[0, 0]]}
        error = await error_of(alice_ws.request("board.stroke", topic(room), data))
        assert error["code"] == "not_subscribed"
        await alice_ws.request("subscribe", topic(room))
        await bob_ws.request("subscribe", topic(room))
        data = {"id": shape["id"], "points": [[1, 2], [3.5, 4]], "color": "#1D4ED8", "width": 4}
        assert await alice_ws.request("board.stroke", topic(room), data) == {}
        event = await board_event(bob_ws)
        assert event["event"] == "board.stroke" and event["seq"] is None
        assert event["data"] == {**data, "color": "#1d4ed8", "user": await sync_to_async(user.public_dict)()}
        assert await no_board_event(alice_ws)  # the sender already has its own points
        error = await error_of(alice_ws.request("board.stroke", topic(room),
                                                {"id": shape["id"], "points": [[0, 0], [1e9, 0]]}))
        assert (error["code"], error["field"]) == ("invalid", "points.1")
        error = await error_of(alice_ws.request("board.stroke", topic(room), {"id": "x", "points": [[0, 0]]}))
        assert error["field"] == "id"


async def test_cursors_are_forwarded_at_most_20_per_second_per_connection(room, user, make_user):
    bob = await sync_to_async(make_user)()
    async with connect_ws(user) as alice_ws, connect_ws(bob) as bob_ws:
        await alice_ws.request("subscribe", topic(room))
        await bob_ws.request("subscribe", topic(room))
        replies = []
        loop = asyncio.get_running_loop()
        started = loop.time()
        for i in range(60):
            replies.append(await alice_ws.request("board.cursor", topic(room), {"x": i, "y": 2 * i}))
        elapsed = loop.time() - started
        forwarded = [r for r in replies if r == {}]
        assert len(forwarded) + sum(r == {"dropped": True} for r in replies) == 60
        assert 1 <= len(forwarded) <= CURSOR_MAX_PER_SECOND * elapsed + 1
        assert len(forwarded) < 60
        received = await board_events_until_quiet(bob_ws)
        assert len(received) == len(forwarded)
        first = received[0]["data"]
        assert first == {"x": 0, "y": 0, "user": await sync_to_async(user.public_dict)(),
                         "color": user_colour(user.pk)}
        assert all(e["event"] == "board.cursor" and e["seq"] is None for e in received)
        # After the interval the next one goes through again; notify-style frames (no
        # request_id) are dropped without any reply.
        await asyncio.sleep(CURSOR_MIN_INTERVAL * 1.5)
        await alice_ws.send({"action": "board.cursor", "topic": topic(room), "data": {"x": 5, "y": 5}})
        await alice_ws.send({"action": "board.cursor", "topic": topic(room), "data": {"x": 6, "y": 6}})
        assert (await board_event(bob_ws))["data"]["x"] == 5
        assert await no_board_event(bob_ws)
        assert [f for f in await frames_until_quiet(alice_ws) if f["type"] != "event"] == []
        error = await error_of(alice_ws.request("board.cursor", topic(room), {"x": "left", "y": 0}))
        assert (error["code"], error["field"]) == ("invalid", "x")


async def test_private_board_is_not_found_for_outsiders(make_room, make_user, user):
    outsider = await sync_to_async(make_user)()
    member = await sync_to_async(make_user)()
    private = await sync_to_async(make_room)(user, is_private=True, members=[member])
    async with connect_ws(outsider) as ws:
        for action in ("subscribe", "board.snapshot"):
            assert (await error_of(ws.request(action, topic(private))))["code"] == "not_found"
        error = await error_of(ws.request("board.draw", topic(private), {"shape": new_shape()}))
        assert error["code"] == "not_found"
        error = await error_of(ws.request("subscribe", "board:no-such-room"))
        assert error["code"] == "not_found"
    async with connect_ws(member) as ws:
        await ws.request("subscribe", topic(private))
        reply = await ws.request("board.draw", topic(private), {"shape": new_shape()})
        assert reply["shape"]["version"] == 1
    async with connect_ws(origin="http://localhost") as anonymous:
        assert (await error_of(anonymous.request("subscribe", topic(private))))["code"] == "not_found"


async def test_anonymous_may_watch_a_public_board_but_not_draw(room, user):
    async with connect_ws(origin="http://localhost") as anonymous, connect_ws(user) as alice_ws:
        assert anonymous.accepted
        await anonymous.request("subscribe", topic(room))
        shape = new_shape("ellipse")
        await alice_ws.request("board.draw", topic(room), {"shape": shape})
        assert (await board_event(anonymous))["data"]["shape"]["id"] == shape["id"]
        snap = await anonymous.request("board.snapshot", topic(room))
        assert [s["id"] for s in snap["shapes"]] == [shape["id"]] and snap["seq"] == 1
        for action, data in [("board.draw", {"shape": new_shape()}), ("board.erase", {"id": shape["id"]}),
                             ("board.clear", {}), ("board.cursor", {"x": 1, "y": 1})]:
            error = await error_of(anonymous.request(action, topic(room), data))
            assert error["code"] == "unauthenticated", action


async def test_late_joiner_snapshot_then_since_misses_nothing(room, user):
    async with connect_ws(user) as alice_ws:
        for kind in ("stroke", "rect"):
            await alice_ws.request("board.draw", topic(room), {"shape": new_shape(kind)})
        async with connect_ws(user) as late:
            snap = await late.request("board.snapshot", topic(room))
            assert snap["seq"] == 2 and len(snap["shapes"]) == 2
            later = new_shape("text")
            await alice_ws.request("board.draw", topic(room), {"shape": later})
            sub = await late.request("subscribe", topic(room), {"since": snap["seq"]})
            assert sub["recovered"] is True
            replayed = await board_event(late)
            assert (replayed["seq"], replayed["data"]["shape"]["id"]) == (3, later["id"])
            assert await no_board_event(late)


async def test_a_stroke_at_the_point_limit_fits_in_one_socket_frame(room, user):
    """5,000 whole-unit points at the far corner (what the browser sends) stay under 64 KiB."""
    import json

    points = [[1600, 1000]] * 5000
    shape = new_shape("stroke", data={"points": points, "color": "#112233", "width": 64})
    frame = json.dumps({"action": "board.draw", "request_id": "big", "topic": topic(room),
                        "data": {"shape": shape}}, separators=(",", ":"))
    assert len(frame.encode()) < 64 * 1024
    async with connect_ws(user) as ws:
        await ws.send(frame)
        reply = await ws.receive()
        while reply.get("type") == "event":
            reply = await ws.receive()
        assert reply["type"] == "reply" and len(reply["data"]["shape"]["data"]["points"]) == 5000
