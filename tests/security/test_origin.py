"""The WebSocket Origin check compares scheme, host and port with the site's own origin
(Django's CSRF origin check), not host names alone."""

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from tests.ws import connect_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]

SITE = "localhost:8000"


@sync_to_async
def session_of(user):
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def test_the_sites_own_origin_is_accepted_with_the_session_cookie(user):
    session = await session_of(user)
    async with connect_ws(session_cookie=session, origin=f"http://{SITE}", host=SITE) as ws:
        assert ws.accepted
        assert (await ws.request("subscribe", f"user:{user.pk}"))["seq"] == 0


async def test_another_port_on_the_same_host_is_refused(user):
    session = await session_of(user)
    async with connect_ws(session_cookie=session, origin="http://localhost:6666", host=SITE) as ws:
        assert not ws.accepted
    async with connect_ws(user, origin="http://localhost:6666", host=SITE) as ws:
        assert not ws.accepted  # a ticket does not excuse a foreign page
    async with connect_ws(session_cookie=session, origin="http://localhost", host=SITE) as ws:
        assert not ws.accepted  # the default port is a port too


async def test_another_scheme_is_refused_and_the_proxys_scheme_counts(user, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    session = await session_of(user)
    async with connect_ws(session_cookie=session, origin=f"https://{SITE}", host=SITE) as ws:
        assert not ws.accepted  # the socket is plain ws, and no proxy says otherwise
    behind_tls = [("X-Forwarded-Proto", "https")]
    async with connect_ws(session_cookie=session, origin=f"https://{SITE}", host=SITE,
                          headers=behind_tls) as ws:
        assert ws.accepted
    async with connect_ws(session_cookie=session, origin=f"http://{SITE}", host=SITE,
                          headers=behind_tls) as ws:
        assert not ws.accepted  # an http page of an https site


async def test_a_host_outside_allowed_hosts_is_not_the_sites_origin(user):
    session = await session_of(user)
    async with connect_ws(session_cookie=session, origin="http://evil.example",
                          host="evil.example") as ws:
        assert not ws.accepted


async def test_csrf_trusted_origins_are_accepted_exactly(user, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example.com"]
    session = await session_of(user)
    async with connect_ws(session_cookie=session, origin="https://app.example.com", host=SITE) as ws:
        assert ws.accepted
    async with connect_ws(session_cookie=session, origin="https://app.example.com:444",
                          host=SITE) as ws:
        assert not ws.accepted


async def test_a_missing_origin_still_needs_a_ticket(user):
    # Non-browser clients send no Origin; they get in with a ticket (issued over an
    # authenticated REST call a foreign page cannot make), never on a cookie alone.
    session = await session_of(user)
    async with connect_ws(session_cookie=session, host=SITE) as ws:
        assert not ws.accepted
    async with connect_ws(user, host=SITE) as ws:
        assert ws.accepted
        assert "pong" in await ws.request("ping")
