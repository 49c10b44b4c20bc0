"""SSRF: with WEBHOOKS_ALLOW_PRIVATE_NETWORKS off no request reaches a loopback, private,
link-local or unique-local address, literal or through a name; the request goes to the
address that was checked; redirects are not followed."""

import json

import pytest

from realtime.webhooks import endpoints, sending, ssrf
from realtime.webhooks.models import Attempt
from tests.realtime.test_webhooks import Receiver, register, run_all

REFUSED = ["http://127.0.0.1/hook", "https://10.1.2.3/hook", "http://169.254.169.254/latest/meta-data",
           "https://[::1]/hook", "https://[fd00::1]/hook", "https://[fe80::1]/hook",
           "https://192.168.0.10/hook", "https://172.16.5.4/hook", "https://0.0.0.0/hook",
           "https://[::ffff:127.0.0.1]/hook", "https://224.0.0.1/hook", "https://100.64.0.1/hook",
           "https://localhost/hook"]


@pytest.fixture
def guarded(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
    settings.DEBUG = True


@pytest.mark.parametrize("url", REFUSED)
def test_non_public_addresses_are_refused_when_resolving(guarded, url):
    with pytest.raises(ssrf.Refused):
        ssrf.resolve(url)


@pytest.mark.parametrize("url", ["https://8.8.8.8/hook", "https://[2001:4860:4860::8888]/hook"])
def test_public_addresses_pass(guarded, url):
    assert ssrf.resolve(url) in url


def test_the_setting_allows_private_networks(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    assert ssrf.resolve("http://localhost:9/hook") in ("127.0.0.1", "::1")


def test_a_request_to_a_name_resolving_to_loopback_is_never_made(guarded):
    receiver = Receiver()
    try:
        outcome = sending.post(f"http://localhost:{receiver.port}/hook", "whsec_x", b"{}",
                               event_id="e", event_type="chat.message", attempt=1)
        assert not outcome.ok and outcome.error.startswith("refused:")
        assert receiver.requests == []
    finally:
        receiver.stop()


@pytest.mark.django_db(transaction=True)
def test_a_queued_delivery_to_loopback_is_refused_and_recorded(guarded, settings, staff, room_lobby):
    receiver = Receiver()
    try:
        settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True  # registered while allowed ...
        endpoint, _ = register(staff, f"http://localhost:{receiver.port}/hook", ["chat.message"])
        settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False  # ... sent after it was turned off
        from chat import services as chat

        chat.message_create(room=room_lobby, author=staff, body="x")
        run_all(endpoint)
        assert receiver.requests == []
        attempt = Attempt.objects.get()
        assert not attempt.ok and "non-public" in attempt.error
    finally:
        receiver.stop()


@pytest.mark.parametrize("url", ["http://127.0.0.1/x", "https://10.0.0.1/x", "https://[::1]/x",
                                 "https://169.254.1.1/x"])
def test_registering_a_literal_private_address_is_refused(guarded, url):
    with pytest.raises(ssrf.Refused):
        endpoints.clean_url(url)


def test_plain_http_is_refused_outside_debug(settings):
    settings.DEBUG = False
    with pytest.raises(endpoints.Invalid):
        endpoints.clean_url("http://example.com/hook")
    assert endpoints.clean_url("https://example.com/hook") == "https://example.com/hook"


def test_redirects_are_not_followed(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    receiver = Receiver(statuses=[302])
    try:
        outcome = sending.post(receiver.url, "whsec_x", json.dumps({"id": "1"}).encode(),
                               event_id="1", event_type="chat.message", attempt=1)
        assert not outcome.ok and outcome.status_code == 302
        assert [path for path, _, _ in receiver.requests] == ["/hook"]  # /elsewhere never asked
    finally:
        receiver.stop()


def test_the_host_header_names_the_url_while_the_checked_address_is_connected(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    receiver = Receiver()
    try:
        outcome = sending.post(f"http://localhost:{receiver.port}/hook", "whsec_x", b"{}",
                               event_id="1", event_type="chat.message", attempt=1)
        assert outcome.ok
        assert receiver.requests[0][1]["Host"] == f"localhost:{receiver.port}"
    finally:
        receiver.stop()


@pytest.fixture
def room_lobby(staff):
    from chat import services as chat

    return chat.room_create(creator=staff, slug="lobby", name="Lobby")
