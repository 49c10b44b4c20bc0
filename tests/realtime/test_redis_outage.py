"""Redis restarts under a real daphne process: REST writes before, during and after the
outage either succeed (and are delivered once) or are refused with 503 `unavailable`
before anything is written; the first handshake after the restart succeeds; sockets
open throughout receive every message in order, exactly once.  The outage is real (the
redis-server process is stopped and started again on the same port)."""

import asyncio
import urllib.error
import urllib.request

import orjson
import pytest
from asgiref.sync import sync_to_async

from chat import selectors, services
from chat.models import Message
from tests.servers import connect_client

pytestmark = pytest.mark.django_db(transaction=True)


def post_message(server, token, body):
    """POSTs a chat message over real HTTP; returns (status, JSON body, headers)."""
    request = urllib.request.Request(
        f"{server.url}/api/rooms/lobby/messages/", data=orjson.dumps({"body": body}),
        method="POST", headers={"Content-Type": "application/json",
                                "Authorization": f"Token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, orjson.loads(response.read()), response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, orjson.loads(exc.read() or b"null"), exc.headers


def _setup():
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    users = get_user_model().objects
    owner = users.create_user("olga", password="x")
    alice = users.create_user("alice", password="x")
    bob = users.create_user("bob", password="x")
    services.room_create(creator=owner, slug="lobby", name="Lobby")
    return alice, bob, Token.objects.create(user=alice).key


async def chat_bodies(client, last_body, timeout=20):
    """The bodies of the chat.message events `client` receives up to `last_body`."""
    got = await client.collect(lambda e: e.get("event") == "chat.message"
                               and e["data"]["message"]["body"] == last_body, timeout=timeout)
    return [e for e in got if e.get("event") == "chat.message"]


@pytest.mark.timeout(120)
async def test_rest_writes_across_a_redis_restart_are_refused_whole_or_delivered_once(
        throwaway_redis, daphne):
    alice, bob, token = await sync_to_async(_setup)()
    (server,) = daphne(1)
    clients = [await connect_client(server, alice), await connect_client(server, bob)]
    accepted = []
    try:
        for client in clients:
            await client.subscribe("room:lobby")

        async def write(body):
            status, reply, headers = await sync_to_async(post_message)(server, token, body)
            assert status in (201, 503), (status, reply)
            if status == 201:
                accepted.append(body)
            else:
                assert reply["error"]["code"] == "unavailable"
                assert headers["Retry-After"]
            return status

        for n in range(3):
            assert await write(f"before {n}") == 201

        throwaway_redis.stop()
        during = [await write(f"during {n}") for n in range(3)]
        # A write that needs no Redis itself (an admin action, a Celery task: the same
        # service) commits; its broadcast fails, and the outbox delivers it all the same.
        await sync_to_async(lambda: services.message_create(
            room=selectors.get_room(slug="lobby", user=alice), author=alice, body="during, no redis"))()
        accepted.append("during, no redis")
        # A refused write wrote nothing: the rows are exactly the accepted messages.
        rows = await sync_to_async(lambda: list(Message.objects.order_by("id")
                                                .values_list("body", flat=True)))()
        assert rows == accepted, (rows, during)

        throwaway_redis.start()  # empty, on the same port: every pooled connection is dead
        # The first handshake after the restart (its ticket is redeemed over a connection
        # pooled before the restart) is accepted.
        late = await connect_client(server, bob)
        clients.append(late)
        await late.subscribe("room:lobby")

        for n in range(3):
            assert await write(f"after {n}") == 201

        for client in clients[:2]:
            events = await chat_bodies(client, accepted[-1])
            bodies = [e["data"]["message"]["body"] for e in events]
            assert bodies == accepted, bodies  # every one, in order, once
            seqs = [e["seq"] for e in events]
            assert seqs == sorted(set(seqs))
            assert not client.closed.is_set()
        # The late socket may also get the outage's event (filled from the outbox after
        # it subscribed); it gets every later one, once.
        late_bodies = [e["data"]["message"]["body"] for e in await chat_bodies(late, accepted[-1])]
        assert late_bodies[-3:] == [f"after {n}" for n in range(3)], late_bodies
        assert len(late_bodies) == len(set(late_bodies))
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
