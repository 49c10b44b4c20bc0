"""A browser's tabs reconnecting together before their session has a snapshot: one
resolution through the database for all of them, and nothing of it kept afterwards."""

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from realtime import sessions
from realtime.redis import sync_client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]


@sync_to_async
def log_in(user):
    client = Client()
    client.force_login(user)
    return client, client.cookies["sessionid"].value


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
