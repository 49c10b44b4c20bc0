"""A browser's tabs reconnecting together before their session has a snapshot: one
resolution through the database for all of them, and nothing of it kept afterwards."""

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async

from realtime import sessions
from realtime.redis import sync_client
from tests.session_login import break_snapshot_reads, log_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]


def counting_resolve(monkeypatch, gate=None):
    """sessions.resolve, counting its calls (and waiting for `gate` before resolving)."""
    calls = []
    real = sessions.resolve

    def resolve(session_key):
        calls.append(session_key)
        if gate is not None:
            gate.wait(5)
        return real(session_key)

    monkeypatch.setattr(sessions, "resolve", resolve)
    return calls


async def test_connects_missing_the_snapshot_together_share_one_resolution(user, monkeypatch):
    _, key = await log_in(user)
    calls = counting_resolve(monkeypatch)
    users = await asyncio.gather(*(sessions.session_user(key) for _ in range(20)))
    assert [u.pk for u in users] == [user.pk] * 20
    assert calls == [key]
    assert sessions._resolving == {}  # nothing outlives the resolution
    assert sync_client().get(sessions.SNAPSHOT_PREFIX + sessions.digest(key)) is not None


async def test_a_connect_after_the_resolution_ended_does_not_reuse_it(user, monkeypatch):
    """A logout between two connects: the second resolves afresh and is anonymous."""
    client, key = await log_in(user)
    calls = counting_resolve(monkeypatch)
    assert (await sessions.session_user(key)).pk == user.pk
    await sync_to_async(client.post)("/accounts/logout/")
    assert not (await sessions.session_user(key)).is_authenticated
    assert calls == [key, key]


async def test_a_waiter_that_goes_away_does_not_cancel_the_others(user, monkeypatch):
    _, key = await log_in(user)
    gate = threading.Event()
    calls = counting_resolve(monkeypatch, gate)
    first = asyncio.ensure_future(sessions.session_user(key))
    second = asyncio.ensure_future(sessions.session_user(key))
    await asyncio.sleep(0.05)
    first.cancel()
    gate.set()
    assert (await second).pk == user.pk
    assert calls == [key]


async def test_a_failed_resolution_fails_its_waiters_and_is_not_kept(user, monkeypatch):
    _, key = await log_in(user)

    def broken(session_key):
        raise ConnectionError("database is down")

    monkeypatch.setattr(sessions, "resolve", broken)
    results = await asyncio.gather(*(sessions.session_user(key) for _ in range(3)),
                                   return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    assert sessions._resolving == {}


async def test_the_snapshot_read_shares_the_address_checks_round_trip(user, monkeypatch):
    """The handshake queues the snapshot's GET before it awaits the address check, so both
    go to Redis in one batch; the database is not asked before admission."""
    from realtime import limits
    from realtime.redis import batched
    from tests.ws import connect_ws

    _, key = await log_in(user)
    await sessions.session_user(key)  # the snapshot exists
    seen = []
    real_admit = limits.admit

    async def admit(*args, **kwargs):
        seen.append([args[0] for args, _ in batched().queue])
        return await real_admit(*args, **kwargs)

    monkeypatch.setattr(limits, "admit", admit)
    async with connect_ws(session_cookie=key, origin="http://localhost:8000") as ws:
        await ws.request("subscribe", f"user:{user.pk}")
    assert seen == [["GET"]]


async def test_a_snapshot_read_that_failed_is_resolved_through_the_database(user, monkeypatch):
    _, key = await log_in(user)

    break_snapshot_reads(monkeypatch)
    pending = sessions.read_snapshot(key)
    assert (await sessions.session_user(key, pending)).pk == user.pk


async def test_a_resolution_left_by_another_event_loop_is_not_joined(user):
    _, key = await log_in(user)
    other = asyncio.new_event_loop()
    try:
        sessions._resolving[key] = other.create_future()  # never finished: its loop is gone
        assert (await sessions.session_user(key)).pk == user.pk
    finally:
        other.close()
        sessions._resolving.pop(key, None)
