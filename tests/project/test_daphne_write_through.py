"""Under daphne a frame to an idle socket is written at once (project/daphne_compat.py,
write-through): frames far over the transport's 64 KiB high-water mark and Twisted's
128 KiB send limit, mixed with small ones, arrive whole and in order, whether they come
one at a time or in one burst."""

import pytest
from asgiref.sync import sync_to_async

from realtime.publish import publish, publish_many
from tests import servers
from tests.servers import connect_client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

TOPIC = "open:big"
# Small, over the high-water mark, over the send limit, far over both.
SIZES = [10, 70_000, 10, 200_000, 10, 600_000, 100, 10]


@pytest.fixture
def daphne(transactional_db, open_kind):
    env = servers.server_env({"DATABASE_URL": servers.database_url()})
    server = servers.DaphneServer(servers.free_port(), env, servers.APP_WITH_OPEN_KIND)
    try:
        yield server.wait_ready()
    finally:
        server.stop()


def _events(first):
    return [(TOPIC, "notification", {"n": first + i, "blob": "x" * size}) for i, size in enumerate(SIZES)]


def _publish_one_by_one(events):
    for topic, event, data in events:
        publish(topic, event, data)


async def test_large_and_small_frames_arrive_whole_and_in_order_one_by_one_and_in_a_burst(daphne, make_user):
    user = await sync_to_async(make_user)("reader")
    async with await connect_client(daphne, user) as client:
        await client.subscribe(TOPIC)
        await sync_to_async(_publish_one_by_one)(_events(0))
        await sync_to_async(publish_many)(_events(len(SIZES)))
        last = 2 * len(SIZES) - 1
        got = await client.collect(lambda e: e["data"].get("n") == last, timeout=30)
    notes = [e for e in got if e["event"] == "notification"]
    assert [e["data"]["n"] for e in notes] == list(range(2 * len(SIZES)))
    assert [len(e["data"]["blob"]) for e in notes] == SIZES * 2
    seqs = [e["seq"] for e in notes]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
