"""Property-based fuzzing of the socket protocol: whatever a client sends, every request
gets one well-formed reply or error with its request_id, and the connection keeps serving."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime.registry import actions
from tests.ws import connect_ws

pytestmark = [pytest.mark.django_db(transaction=True)]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: (st.lists(children, max_size=5)
                      | st.dictionaries(st.text(max_size=10), children, max_size=5)),
    max_leaves=20,
)
topics = st.one_of(st.text(max_size=30), st.sampled_from(["room:lobby", "board:lobby", "feed:news",
                                                           "user:1", "galaxy:x", ":", "room:", "a" * 300]),
                   json_values)
action_names = st.one_of(st.sampled_from(sorted(actions) + ["nope", "subscribe.", "", "__init__"]),
                         st.text(max_size=20), json_values)
frames = st.fixed_dictionaries(
    {"action": action_names, "request_id": st.one_of(st.text(max_size=20), st.integers(0, 10**6))},
    optional={"topic": topics,
              "data": st.one_of(st.dictionaries(st.text(max_size=10), json_values, max_size=6), json_values)},
)


def well_formed(message, request_id):
    if message["type"] == "reply":
        return message["request_id"] == request_id and isinstance(message["data"], dict)
    if message["type"] == "error":
        error = message["error"]
        return (message["request_id"] in (request_id, None) and isinstance(error["code"], str)
                and isinstance(error["message"], str) and "Traceback" not in error["message"])
    return message["type"] == "event"


@pytest.mark.usefixtures("hub_cleanup")
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(batch=st.lists(frames, min_size=1, max_size=8))
async def test_random_frames_always_get_one_well_formed_answer(make_user_once, batch):
    async with connect_ws(make_user_once) as ws:
        for index, frame in enumerate(batch):
            frame = dict(frame, request_id=f"f{index}")
            await ws.send(json.dumps(frame))
            while True:
                message = await ws.receive(timeout=5)
                assert well_formed(message, f"f{index}"), message
                if message["type"] in ("reply", "error"):
                    assert message["request_id"] == f"f{index}" or message["error"]["code"] in (
                        "invalid", "bad_request")
                    break
        assert "pong" in await ws.request("ping")


@pytest.mark.usefixtures("hub_cleanup")
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(raw=st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
                     st.just("[" * 5000 + "]" * 5000), st.just('{"a":' * 2000 + "1" + "}" * 2000),
                     st.just('{"action":"ping","request_id":"\\ud800"}'),
                     st.just('{"action":"ping","request_id":' + "9" * 400 + "}")))
async def test_garbage_text_is_answered_bad_request_or_invalid(make_user_once, raw):
    async with connect_ws(make_user_once) as ws:
        await ws.send(raw)
        message = await ws.receive(timeout=5)
        assert message["type"] in ("error", "reply", "event")
        if message["type"] == "error":
            assert message["error"]["code"] in ("bad_request", "invalid", "unknown_action",
                                                 "unknown_topic", "forbidden", "not_found",
                                                 "unauthenticated", "not_subscribed")
        assert "pong" in await ws.request("ping")


@pytest.fixture
def make_user_once(django_user_model):
    user, _ = django_user_model.objects.get_or_create(username="fuzzer")
    return user

