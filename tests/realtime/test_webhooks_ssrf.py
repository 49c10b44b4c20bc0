"""SSRF: with WEBHOOKS_ALLOW_PRIVATE_NETWORKS off no request reaches a loopback, private,
link-local or unique-local address, literal or through a name; the request goes to the
address that was checked; redirects are not followed."""

import json

import pytest

from realtime.webhooks import endpoints, sending, ssrf
from realtime.webhooks.models import Attempt
from tests.realtime.webhook_receiver import Receiver, register, run_all

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


def _certificate(tmp_path, name):
    """A self-signed certificate for `name` (cryptography): (cert path, key path)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def test_https_goes_to_the_checked_address_with_the_names_sni_and_certificate(settings, tmp_path):
    import ssl

    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    cert, key = _certificate(tmp_path, "localhost")
    settings.WEBHOOKS_VERIFY = cert  # trust this test's own CA
    receiver = Receiver()
    seen = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: seen.append(name)
    receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
    try:
        outcome = sending.post(f"https://localhost:{receiver.port}/hook", "whsec_x", b"{}",
                               event_id="1", event_type="chat.message", attempt=1)
        assert outcome.ok, outcome.error
        assert seen == ["localhost"]  # SNI names the host though the socket went to its address
        assert receiver.requests[0][1]["Host"] == f"localhost:{receiver.port}"
        # The certificate is checked against the name: one for another name is refused.
        (tmp_path / "other").mkdir()
        other_cert, _ = _certificate(tmp_path / "other", "elsewhere.test")
        settings.WEBHOOKS_VERIFY = other_cert
        refused = sending.post(f"https://localhost:{receiver.port}/hook", "whsec_x", b"{}",
                               event_id="2", event_type="chat.message", attempt=1)
        assert not refused.ok and "CERTIFICATE_VERIFY_FAILED" in refused.error
        assert len(receiver.requests) == 1
    finally:
        receiver.stop()
