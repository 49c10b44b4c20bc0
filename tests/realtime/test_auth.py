"""Connection auth: tickets, session cookies, the origin policy, logout and deactivation."""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from realtime.auth import issue_ticket
from tests.session_login import log_in
from tests.ws import ProtocolErrorFrame, connect_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]


async def test_a_ticket_authenticates_the_connection(user):
    async with connect_ws(user) as ws:
        assert ws.accepted
        assert (await ws.request("subscribe", f"user:{user.pk}"))["seq"] == 0


async def test_a_ticket_works_once(user):
    ticket = await sync_to_async(issue_ticket)(user)
    async with connect_ws(ticket=ticket) as first:
        assert "pong" in await first.request("ping")
    async with connect_ws(ticket=ticket) as second:
        assert await second.close_code() == 4401


async def test_an_expired_or_bogus_ticket_is_closed_4401(user, settings):
    settings.REALTIME_TICKET_TTL = 1
    ticket = await sync_to_async(issue_ticket)(user)
    await asyncio.sleep(1.5)
    async with connect_ws(ticket=ticket) as ws:
        assert ws.accepted and await ws.close_code() == 4401
    async with connect_ws(ticket="made-up") as ws:
        assert await ws.close_code() == 4401


async def test_a_ticket_of_a_deactivated_user_is_refused(make_user):
    user = await sync_to_async(make_user)("gone")
    ticket = await sync_to_async(issue_ticket)(user)
    user.is_active = False
    await sync_to_async(user.save)()
    async with connect_ws(ticket=ticket) as ws:
        assert await ws.close_code() == 4401


async def test_the_session_cookie_authenticates_a_same_origin_browser(user):
    _, session = await log_in(user)
    async with connect_ws(session_cookie=session, origin="http://localhost:8000") as ws:
        assert ws.accepted
        await ws.request("subscribe", f"user:{user.pk}")


async def test_a_foreign_origin_is_refused_at_the_handshake(user):
    _, session = await log_in(user)
    async with connect_ws(session_cookie=session, origin="https://evil.example") as ws:
        assert not ws.accepted
    async with connect_ws(user, origin="https://evil.example") as ws:
        assert not ws.accepted  # a ticket does not excuse a foreign page either


async def test_a_missing_origin_needs_a_ticket_never_the_cookie_alone(user):
    _, session = await log_in(user)
    async with connect_ws(session_cookie=session) as ws:
        assert not ws.accepted
    async with connect_ws(user) as ws:  # ticket, no Origin: scripts and apps
        assert ws.accepted


async def test_anonymous_connections_may_only_read_topics_that_allow_it(user, open_kind):
    async with connect_ws(origin="http://localhost") as ws:
        assert ws.accepted
        await ws.request("subscribe", "open:anything")
        with pytest.raises(ProtocolErrorFrame) as err:
            await ws.request("subscribe", f"user:{user.pk}")
        assert err.value.code == "forbidden"


async def test_another_users_private_topic_is_forbidden(make_user):
    alice = await sync_to_async(make_user)("alice2")
    bob = await sync_to_async(make_user)("bob2")
    async with connect_ws(alice) as ws:
        with pytest.raises(ProtocolErrorFrame) as err:
            await ws.request("subscribe", f"user:{bob.pk}")
        assert err.value.code == "forbidden"


async def test_logging_out_closes_the_users_sockets_4401(user):
    client, session = await log_in(user)
    async with connect_ws(session_cookie=session, origin="http://localhost") as by_cookie, \
            connect_ws(user) as by_ticket:
        await by_cookie.request("ping")
        await by_ticket.request("ping")
        await sync_to_async(client.post)("/accounts/logout/")
        assert await by_cookie.close_code() == 4401
        assert await by_ticket.close_code() == 4401


async def test_deactivating_a_user_closes_their_sockets(user):
    async with connect_ws(user) as ws:
        await ws.request("ping")
        user.is_active = False
        await sync_to_async(user.save)()
        assert await ws.close_code() == 4401


async def test_each_connection_is_recorded_and_closed(user):
    from realtime.models import Connection

    async def row_when(predicate):
        for _ in range(50):  # the log is written in batches every 0.2 s
            row = await sync_to_async(Connection.objects.filter(user=user).first)()
            if row is not None and predicate(row):
                return row
            await asyncio.sleep(0.1)
        raise AssertionError("connection row not written")

    async with connect_ws(user) as ws:
        await ws.request("ping")
        row = await row_when(lambda r: r.closed_at is None)
        assert row.server_instance
    row = await row_when(lambda r: r.closed_at is not None)


async def test_a_ticket_carries_the_user_so_redeeming_it_reads_no_database(user, django_assert_num_queries):
    from realtime.auth import redeem_ticket, user_from_ticket

    ticket = await sync_to_async(issue_ticket)(user)
    info = await redeem_ticket(ticket)

    @sync_to_async
    def check():
        with django_assert_num_queries(0):
            built = user_from_ticket(info)
            assert (built.pk, built.username, built.is_active) == (user.pk, user.username, True)
            assert built.get_display_name() == user.get_display_name()
            assert built.is_staff == user.is_staff and built.is_authenticated
        with django_assert_num_queries(1):  # any other field loads on first use, like .only()
            assert built.email == user.email

    await check()


async def test_logging_out_voids_the_users_outstanding_tickets(user):
    client, _ = await log_in(user)
    unused = await sync_to_async(issue_ticket)(user)
    await sync_to_async(client.post)("/accounts/logout/")
    async with connect_ws(ticket=unused) as ws:
        assert await ws.close_code() == 4401


async def test_a_ticket_holding_a_bare_user_id_from_an_older_release_still_works(user):
    from realtime.auth import TICKET_PREFIX
    from realtime.redis import sync_client

    await sync_to_async(sync_client().set)(TICKET_PREFIX + "legacy-ticket", str(user.pk), ex=30)
    async with connect_ws(ticket="legacy-ticket") as ws:
        assert (await ws.request("subscribe", f"user:{user.pk}"))["seq"] == 0


async def test_a_websocket_to_any_other_path_is_refused_at_the_handshake(user):
    from channels.testing import WebsocketCommunicator

    from project.asgi import application

    ticket = await sync_to_async(issue_ticket)(user)
    comm = WebsocketCommunicator(application, f"/ws/other/?ticket={ticket}")
    connected, _ = await comm.connect(timeout=5)
    assert not connected


async def test_a_session_cookie_with_a_stale_session_hash_is_anonymous(user):
    """The handshake checks the session like Django's AuthenticationMiddleware: after a
    password change elsewhere the old session no longer authenticates."""
    _, session = await log_in(user)
    user.set_password("a-new-password-123")
    await sync_to_async(user.save)()
    async with connect_ws(session_cookie=session, origin="http://localhost:8000") as ws:
        assert ws.accepted
        with pytest.raises(ProtocolErrorFrame) as err:
            await ws.request("subscribe", f"user:{user.pk}")
        assert err.value.code == "forbidden"
