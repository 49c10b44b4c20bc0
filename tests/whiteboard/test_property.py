"""Property: whatever two people do to a board at once, a late joiner's snapshot equals the
board each live client built from the events it received.

Two socket clients draw, redraw (from the version they last saw, so some are conflicts),
undo erases, erase and clear, in a random order, over a small pool of shape ids (so they
collide), acting on possibly stale state (they only read events that have already arrived).
"""

import copy

import pytest
from asgiref.sync import sync_to_async
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from realtime.store import latest_seq
from tests.whiteboard.conftest import GOOD_DATA
from tests.ws import ProtocolErrorFrame, connect_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]

IDS = [f"00000000-0000-4000-8000-00000000000{n}" for n in range(1, 5)]
KINDS = sorted(GOOD_DATA)
OPS = st.lists(st.tuples(st.sampled_from([0, 1]),  # who acts
                         st.sampled_from(["draw", "draw", "draw", "erase", "erase_at", "clear"]),
                         st.integers(0, len(IDS) - 1),  # which shape id
                         st.integers(0, 50)),  # which kind / data variant
               min_size=1, max_size=12)


class Replica:
    """A client's board, built only from the events it receives (as static/app/board.js)."""

    def __init__(self, ws, topic):
        self.ws, self.topic = ws, topic
        self.shapes, self.erased_at, self.seq = {}, {}, 0

    def apply(self, frame):
        if frame.get("type") != "event" or frame.get("topic") != self.topic:
            return
        if frame["seq"] is None:
            return  # presence, strokes, cursors
        assert frame["seq"] == self.seq + 1, f"gap or repeat: {frame['seq']} after {self.seq}"
        self.seq = frame["seq"]
        data = frame["data"]
        if frame["event"] == "board.shape":
            self.shapes[data["shape"]["id"]] = data["shape"]
            self.erased_at.pop(data["shape"]["id"], None)
        elif frame["event"] == "board.erased":
            del self.shapes[data["id"]]
            self.erased_at[data["id"]] = data["version"]
        elif frame["event"] == "board.cleared":
            for shape_id, shape in self.shapes.items():
                self.erased_at[shape_id] = shape["version"] + 1
            self.shapes.clear()

    def absorb(self):
        """Applies the events that already arrived (no waiting: state may be stale)."""
        while self.ws.events:
            self.apply(self.ws.events.pop(0))

    async def catch_up(self, seq):
        self.absorb()
        while self.seq < seq:
            self.apply(await self.ws.next_event())

    def base_version(self, shape_id):
        if shape_id in self.shapes:
            return self.shapes[shape_id]["version"]
        return self.erased_at.get(shape_id)


def shape_for(shape_id, variant, version):
    kind = KINDS[variant % len(KINDS)]
    data = copy.deepcopy(GOOD_DATA[kind])
    if "x" in data:
        data["x"] += variant
    else:
        data["points"][0] = [variant, variant]
    shape = {"id": shape_id, "kind": kind, "data": data}
    if version is not None:
        shape["version"] = version
    return shape


async def act(replica, op, shape_id, variant, is_owner):
    topic = replica.topic
    if op == "draw":
        shape = shape_for(shape_id, variant, replica.base_version(shape_id))
        request = replica.ws.request("board.draw", topic, {"shape": shape})
        expected_errors = {"conflict", "not_found"}
    elif op in ("erase", "erase_at"):
        data = {"id": shape_id}
        if op == "erase_at" and shape_id in replica.shapes:
            data["version"] = replica.shapes[shape_id]["version"]
        request = replica.ws.request("board.erase", topic, data)
        expected_errors = {"conflict", "not_found"}
    else:
        request = replica.ws.request("board.clear", topic, {})
        expected_errors = set() if is_owner else {"forbidden"}
    try:
        await request
        return "ok"
    except ProtocolErrorFrame as exc:
        assert exc.code in expected_errors, exc.error
        return exc.code


@settings(max_examples=20, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=OPS)
async def test_late_joiner_snapshot_equals_what_live_clients_built(ops, make_room, make_user):
    alice = await sync_to_async(make_user)()
    bob = await sync_to_async(make_user)()
    room = await sync_to_async(make_room)(alice)
    topic = f"board:{room.slug}"
    async with connect_ws(alice) as alice_ws, connect_ws(bob) as bob_ws:
        replicas = [Replica(alice_ws, topic), Replica(bob_ws, topic)]
        for replica in replicas:
            assert (await replica.ws.request("subscribe", topic))["seq"] == 0
        outcomes = []
        for who, op, slot, variant in ops:
            replicas[who].absorb()
            outcomes.append(await act(replicas[who], op, IDS[slot], variant, is_owner=who == 0))
        seq = await sync_to_async(latest_seq)(topic)
        for replica in replicas:
            await replica.catch_up(seq)
        async with connect_ws(await sync_to_async(make_user)()) as late:
            snap = await late.request("board.snapshot", topic)
        assert snap["seq"] == seq
        zs = [(s["z"]) for s in snap["shapes"]]
        assert zs == sorted(zs)
        board = {s["id"]: s for s in snap["shapes"]}
        assert replicas[0].shapes == board
        assert replicas[1].shapes == board
        for outcome in set(outcomes):
            event(f"outcome {outcome}")
