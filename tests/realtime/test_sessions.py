"""Session-cookie sockets: the user snapshot in Redis and everything that must drop it."""

import pytest
from asgiref.sync import sync_to_async

from realtime import sessions
from realtime.redis import sync_client
from tests.session_login import break_snapshot_reads, log_in
from tests.ws import ProtocolErrorFrame, connect_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]
ORIGIN = "http://localhost:8000"


def snapshot(session_key):
    return sync_client().get(sessions.SNAPSHOT_PREFIX + sessions.digest(session_key))


async def whoami(session_key):
    """The user id a socket with this cookie gets (None: anonymous)."""
    user = await sessions.session_user(session_key)
    return user.pk if user.is_authenticated else None


async def test_a_reconnecting_browser_is_known_from_the_snapshot_without_the_database(user, monkeypatch):
    _, key = await log_in(user)
    async with connect_ws(session_cookie=key, origin=ORIGIN) as ws:
        await ws.request("subscribe", f"user:{user.pk}")
    assert snapshot(key) is not None
    assert sessions.digest(key) not in [k.decode() for k in sync_client().keys("*")]  # never the key itself

    def no_database(session_key):
        raise AssertionError("resolved through the database")

    monkeypatch.setattr(sessions, "resolve", no_database)
    async with connect_ws(session_cookie=key, origin=ORIGIN) as ws:
        reply = await ws.request("subscribe", f"user:{user.pk}")
        assert reply["seq"] == 0
    built = await sessions.session_user(key)
    assert (built.pk, built.username, built.is_active) == (user.pk, user.username, True)


async def test_logging_out_drops_the_snapshot_so_the_old_cookie_is_anonymous(user):
    client, key = await log_in(user)
    assert await whoami(key) == user.pk and snapshot(key) is not None
    await sync_to_async(client.post)("/accounts/logout/")
    assert snapshot(key) is None
    async with connect_ws(session_cookie=key, origin=ORIGIN) as ws:
        with pytest.raises(ProtocolErrorFrame) as err:
            await ws.request("subscribe", f"user:{user.pk}")
        assert err.value.code == "forbidden"


async def test_a_password_change_elsewhere_drops_the_snapshot(user):
    _, key = await log_in(user)
    assert await whoami(key) == user.pk
    user.set_password("another-password-456")
    await sync_to_async(user.save)()
    assert snapshot(key) is None
    assert await whoami(key) is None  # the session hash no longer matches


async def test_deactivating_or_deleting_the_user_drops_every_snapshot_of_theirs(make_user):
    carol = await sync_to_async(make_user)("carol")
    (_, laptop), (_, phone) = await log_in(carol), await log_in(carol)
    assert await whoami(laptop) == carol.pk and await whoami(phone) == carol.pk
    carol.is_active = False
    await sync_to_async(carol.save)()
    assert snapshot(laptop) is None and snapshot(phone) is None
    assert await whoami(laptop) is None

    dave = await sync_to_async(make_user)("dave")
    _, key = await log_in(dave)
    assert await whoami(key) == dave.pk
    await sync_to_async(dave.delete)()
    assert snapshot(key) is None and await whoami(key) is None


async def test_a_renamed_user_is_seen_under_the_new_name(user):
    _, key = await log_in(user)
    assert (await sessions.session_user(key)).get_display_name() == user.get_display_name()
    user.display_name = "Alice Renamed"
    await sync_to_async(user.save)()
    assert (await sessions.session_user(key)).get_display_name() == "Alice Renamed"


async def test_a_session_deleted_by_an_admin_is_not_kept_alive_by_its_snapshot(user):
    from django.contrib.sessions.models import Session

    _, key = await log_in(user)
    assert await whoami(key) == user.pk
    await sync_to_async(Session.objects.filter(session_key=key).delete)()
    assert snapshot(key) is None and await whoami(key) is None


async def test_the_snapshot_expires_no_later_than_the_session(user):
    client, key = await log_in(user)

    @sync_to_async
    def expire_soon():
        session = client.session
        session.set_expiry(20)
        session.save()

    await expire_soon()
    assert await whoami(key) == user.pk
    ttl = sync_client().ttl(sessions.SNAPSHOT_PREFIX + sessions.digest(key))
    assert 0 < ttl <= 20


async def test_a_resolution_in_flight_cannot_write_back_what_was_just_dropped(user):
    """The race: a resolution reads session and user, then the user changes (or the session
    goes) before it writes the snapshot.  The generation and the tombstone refuse it."""
    from django.contrib.sessions.models import Session

    _, key = await log_in(user)

    @sync_to_async
    def remember_after(drop):
        generation = sessions._generation(user.pk)  # read before the user is loaded
        drop()
        sessions._remember(Session, key, user, generation)

    await remember_after(lambda: sessions.forget_user(user.pk))
    assert snapshot(key) is None
    await remember_after(lambda: sessions.forget_session(key))
    assert snapshot(key) is None
    # Without a drop in between, it writes.
    await sync_to_async(sync_client().delete)(sessions.TOMBSTONE_PREFIX + sessions.digest(key))
    await remember_after(lambda: None)
    assert snapshot(key) is not None


async def test_with_redis_unreadable_the_session_still_resolves_through_the_database(user, monkeypatch):
    _, key = await log_in(user)

    break_snapshot_reads(monkeypatch)
    assert await whoami(key) == user.pk


async def test_an_anonymous_or_unknown_cookie_leaves_no_snapshot(user):
    assert await whoami("no-such-session-key") is None
    assert snapshot("no-such-session-key") is None
