"""The Redis command batcher (auto-pipelining) against a real Redis server."""

import asyncio

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from realtime import redis as realtime_redis
from realtime.redis import CommandBatcher, batched, run_script, script_sha


@pytest.fixture
def pipelines(monkeypatch):
    """Counts the pipelines the batcher sends (each is one round trip to Redis)."""
    sent = []
    original = CommandBatcher._send

    async def counting(self, batch):
        sent.append(len(batch))
        return await original(self, batch)

    monkeypatch.setattr(CommandBatcher, "_send", counting)
    return sent


async def test_commands_issued_together_go_as_one_pipeline_each_with_its_own_reply(pipelines):
    client = realtime_redis.async_client()
    await client.mset({f"t:batch:{i}": f"v{i}" for i in range(50)})
    replies = await asyncio.gather(*(batched().execute("GETDEL", f"t:batch:{i}") for i in range(50)))
    assert replies == [f"v{i}".encode() for i in range(50)]
    assert pipelines == [50]
    assert await client.exists(*(f"t:batch:{i}" for i in range(50))) == 0  # each ran once


async def test_an_error_reply_fails_only_its_own_caller():
    client = realtime_redis.async_client()
    await client.set("t:batch:ok", "fine")
    await client.rpush("t:batch:list", "x")
    ok, wrong = await asyncio.gather(batched().execute("GET", "t:batch:ok"),
                                     batched().execute("GET", "t:batch:list"),
                                     return_exceptions=True)
    assert ok == b"fine"
    assert isinstance(wrong, ResponseError) and "WRONGTYPE" in str(wrong)


async def test_a_cancelled_caller_does_not_disturb_the_rest_of_its_batch():
    client = realtime_redis.async_client()
    await client.mset({"t:batch:a": "1", "t:batch:b": "2"})
    first = asyncio.ensure_future(batched().execute("GET", "t:batch:a"))
    second = asyncio.ensure_future(batched().execute("GET", "t:batch:b"))
    first.cancel()
    assert await second == b"2"
    assert first.cancelled()


async def test_a_connection_error_reaches_every_caller_of_the_batch():
    from redis.asyncio import Redis

    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)  # nothing listens
    batcher = CommandBatcher(dead)
    results = await asyncio.gather(batcher.execute("GET", "a"), batcher.execute("GET", "b"),
                                   return_exceptions=True)
    assert all(isinstance(r, RedisConnectionError) for r in results), results
    await dead.aclose()


async def test_a_script_unknown_to_redis_is_sent_whole_once_then_by_its_sha():
    client = realtime_redis.async_client()
    await client.script_flush()
    script = "return ARGV[1] .. KEYS[1]"
    assert await run_script(script, script_sha(script), ["k"], ["v-"]) == b"v-k"
    assert await client.script_exists(script_sha(script)) == [True]
    assert await run_script(script, script_sha(script), ["k2"], ["w-"]) == b"w-k2"
