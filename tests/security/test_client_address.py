"""The client's address comes from trusted proxies only (realtime.client_address): with
TRUSTED_PROXY_COUNT 0 the socket peer, whatever X-Forwarded-For says; with N the entry the
nearest trusted proxy wrote (N-th from the right).  The same rule for HTTP requests, ASGI
scopes and the Connection table."""

import pytest
from asgiref.sync import sync_to_async
from django.test import RequestFactory

from realtime.client_address import client_address, is_direct_loopback
from tests.ws import connect_ws

PEER = "10.0.0.5"  # the socket peer: the client itself, or our nginx


def http(xff=None, peer=PEER):
    extra = {"REMOTE_ADDR": peer}
    if xff is not None:
        extra["HTTP_X_FORWARDED_FOR"] = xff
    return RequestFactory().get("/", **extra)


def scope(*xffs, peer=PEER):
    return {"type": "websocket", "client": (peer, 5000),
            "headers": [(b"x-forwarded-for", value.encode()) for value in xffs]}


@pytest.mark.parametrize("make", [http, lambda xff=None: scope(*([xff] if xff else []))])
def test_with_no_trusted_proxy_a_forged_header_counts_as_the_peers_own_address(settings, make):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(make("203.0.113.7")) == PEER
    assert client_address(make("203.0.113.7, 198.51.100.1")) == PEER
    assert client_address(make()) == PEER


@pytest.mark.parametrize("make", [http, lambda xff=None: scope(*([xff] if xff else []))])
def test_with_one_trusted_proxy_the_entry_it_appended_counts_and_forged_ones_left_of_it_do_not(
        settings, make):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_address(make("203.0.113.7")) == "203.0.113.7"
    # The client sent "X-Forwarded-For: 1.2.3.4"; a proxy that appends wrote the real peer last.
    assert client_address(make("1.2.3.4, 203.0.113.7")) == "203.0.113.7"


def test_with_two_trusted_proxies_the_second_from_the_right_counts(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_address(http("1.2.3.4, 203.0.113.7, 10.0.0.9")) == "203.0.113.7"


def test_fewer_entries_than_trusted_hops_or_a_non_address_falls_back_to_the_peer(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_address(http("203.0.113.7")) == PEER
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_address(http("not-an-address")) == PEER
    assert client_address(http("")) == PEER
    assert client_address(http("1.2.3.4, 2001:DB8::1")) == "2001:db8::1"  # normalised


def test_several_header_lines_in_a_scope_are_one_list_in_order(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_address(scope("1.2.3.4", "203.0.113.7")) == "203.0.113.7"


def test_direct_loopback_means_a_loopback_peer_and_no_forwarded_header_at_all():
    assert is_direct_loopback(http(peer="127.0.0.1"))
    assert is_direct_loopback(http(peer="::1"))
    assert not is_direct_loopback(http("127.0.0.1", peer="127.0.0.1"))  # proxied by local nginx
    assert not is_direct_loopback(http(peer=PEER))


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("hub_cleanup")
# channels' test communicator has no peer address: "" is the peer, the header ignored.
@pytest.mark.parametrize("trusted, expected", [(0, ""), (1, "203.0.113.7")])
async def test_the_connection_row_records_the_trusted_client_address(settings, user, trusted, expected):
    from realtime.hub import get_hub
    from realtime.models import Connection

    settings.TRUSTED_PROXY_COUNT = trusted
    async with connect_ws(user, headers=[("X-Forwarded-For", "1.2.3.4, 203.0.113.7")]) as ws:
        await ws.request("ping")
        await (await get_hub()).connlog.flush_now()
        addresses = Connection.objects.values_list("client_address", flat=True)
        rows = await sync_to_async(list)(addresses)
    assert rows == [expected]
