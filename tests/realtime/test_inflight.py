"""A socket's requests of concurrent actions overlap (realtime/inflight.py): answers keep
request order whatever order handlers finish in, other actions wait for those in flight,
and at most REALTIME_MAX_INFLIGHT_PER_CONNECTION run at once."""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from realtime import registry
from tests.socket_waits import wait_for
from tests.ws import connect_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]


class Held:
    """A concurrent test action whose requests finish when the test releases them."""

    def __init__(self):
        self.gates, self.started, self.finished = {}, [], []

    async def handler(self, request):
        n = request.data["n"]
        self.started.append(n)
        await self.gate(n).wait()
        self.finished.append(n)
        return {"n": n}

    def gate(self, n):
        return self.gates.setdefault(n, asyncio.Event())

    def release(self, n):
        self.gate(n).set()


@pytest.fixture
def held():
    held = Held()
    registry.register_action("test.held", held.handler, concurrent=True)
    yield held
    registry.actions.pop("test.held", None)


async def _send_held(ws, n):
    await ws.send({"action": "test.held", "request_id": f"h{n}", "data": {"n": n}})


async def _answers(ws, count):
    got = []
    while len(got) < count:
        frame = await ws.receive(timeout=10)
        if frame.get("type") in ("reply", "error"):
            got.append(frame)
    return got


async def test_replies_come_in_request_order_while_handlers_finish_out_of_order(held, make_user):
    async with connect_ws(await sync_to_async(make_user)()) as ws:
        for n in (1, 2, 3):
            await _send_held(ws, n)
        await wait_for(lambda: len(held.started) == 3)  # all three run at once
        held.release(3)
        held.release(2)
        await wait_for(lambda: held.finished == [3, 2])
        assert await ws.expect_silence(0.2)  # 3 and 2 are done, but 1 is not answered yet
        held.release(1)
        answers = await _answers(ws, 3)
    assert [a["request_id"] for a in answers] == ["h1", "h2", "h3"]
    assert [a["data"]["n"] for a in answers] == [1, 2, 3]


async def test_an_error_answer_waits_behind_the_requests_in_flight(held, make_user):
    async with connect_ws(await sync_to_async(make_user)()) as ws:
        await _send_held(ws, 1)
        await ws.send({"action": "no.such.action", "request_id": "bad"})
        await wait_for(lambda: held.started == [1])
        assert await ws.expect_silence(0.2)
        held.release(1)
        answers = await _answers(ws, 2)
    assert [(a["type"], a["request_id"]) for a in answers] == [("reply", "h1"), ("error", "bad")]
    assert answers[1]["error"]["code"] == "unknown_action"


async def test_a_later_subscribe_waits_for_the_earlier_requests_in_flight(held, make_user, open_kind):
    async with connect_ws(await sync_to_async(make_user)()) as ws:
        await _send_held(ws, 1)
        await _send_held(ws, 2)
        await ws.send({"action": "subscribe", "request_id": "sub", "topic": "open:later"})
        await wait_for(lambda: held.started == [1, 2])
        assert await ws.expect_silence(0.3)  # the subscribe is neither run nor answered
        held.release(2)
        held.release(1)
        answers = await _answers(ws, 3)
    assert [a["request_id"] for a in answers] == ["h1", "h2", "sub"]
    assert answers[2]["type"] == "reply"


async def test_at_most_the_cap_runs_at_once_and_the_next_starts_when_one_finishes(held, make_user, settings):
    settings.REALTIME_MAX_INFLIGHT_PER_CONNECTION = 2
    async with connect_ws(await sync_to_async(make_user)()) as ws:
        for n in (1, 2, 3, 4):
            await _send_held(ws, n)
        await wait_for(lambda: held.started == [1, 2])
        assert await ws.expect_silence(0.2) and held.started == [1, 2]
        held.release(1)
        await wait_for(lambda: held.started == [1, 2, 3])
        assert held.started == [1, 2, 3]
        for n in (2, 3, 4):
            held.release(n)
        answers = await _answers(ws, 4)
    assert [a["request_id"] for a in answers] == ["h1", "h2", "h3", "h4"]
