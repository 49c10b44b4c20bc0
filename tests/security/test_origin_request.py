"""The handshake's HttpRequest for Django's origin check, built without HttpRequest.__init__."""

from django.http import HttpRequest

from realtime.endpoint import HandshakeRequest, origin_verified

SCOPE = {"type": "websocket", "path": "/ws/", "query_string": b"", "scheme": "ws",
         "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5555),
         "headers": [(b"host", b"localhost:8000"), (b"origin", b"http://localhost:8000"),
                     (b"cookie", b"sessionid=abc"), (b"x-custom", b"1"), (b"x-custom", b"2")]}


def test_it_has_every_attribute_httprequest_init_sets():
    """A Django upgrade that adds one to HttpRequest.__init__ fails here, not in production."""
    assert set(vars(HttpRequest())) <= set(vars(HandshakeRequest(SCOPE, "http://localhost:8000")))


def test_headers_become_meta_as_a_wsgi_server_would_write_them():
    request = HandshakeRequest(SCOPE, "http://localhost:8000")
    assert request.META["HTTP_HOST"] == "localhost:8000"
    assert request.META["HTTP_X_CUSTOM"] == "1,2"
    assert (request.META["SERVER_NAME"], request.META["SERVER_PORT"]) == ("127.0.0.1", "8000")
    assert request.get_host() == "localhost:8000" and not request.is_secure()


def test_the_verdict_is_djangos(settings):
    settings.ALLOWED_HOSTS = ["localhost"]
    assert origin_verified(SCOPE, "http://localhost:8000")
    assert not origin_verified(SCOPE, "http://localhost:6666")
    assert not origin_verified(SCOPE, "https://localhost:8000")
    assert not origin_verified(dict(SCOPE, scheme="wss"), "http://localhost:8000")
    assert origin_verified(dict(SCOPE, scheme="wss"), "https://localhost:8000")
