"""Request body limits: FEEDS_MAX_BATCH_BYTES on POST /api/events/, Django's
DATA_UPLOAD_MAX_MEMORY_SIZE everywhere else; a body over the limit is a 413 `too_large`
JSON error for every kind of view, whether it declares its length or is sent chunked."""

import http.client

import orjson
import pytest
from django.conf import settings

from feeds import limits
from tests.feeds.conftest import make_event
from tests.servers import database_url, start_daphne

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "pw-tess"  # what make_user gives user "tess"


def padded(value, size):
    """`value` as JSON, padded with trailing spaces (still valid JSON) to exactly `size`
    bytes."""
    raw = orjson.dumps(value)
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


def assert_too_large(response_status, body):
    assert response_status == 413, body[:300]
    error = orjson.loads(body)["error"]
    assert error["code"] == "too_large" and error["message"]


@pytest.fixture
def feed():
    from feeds.models import Feed

    return Feed.objects.create(slug="news", title="News", is_public=True)


@pytest.fixture
def ingester(make_user):
    from django.contrib.auth.models import Permission

    user = make_user("ingester")
    user.user_permissions.add(Permission.objects.get(codename="ingest_events",
                                                     content_type__app_label="feeds"))
    return user


def test_the_limits_are_32_mib_for_ingest_batches_and_2_5_mib_elsewhere():
    assert limits.max_batch_bytes() == 32 * 1024 * 1024
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 2_621_440


def test_an_events_batch_of_exactly_the_limit_is_accepted_and_one_byte_more_is_413(
        feed, ingester, api_as):
    client = api_as(ingester)
    limit = limits.max_batch_bytes()
    body = {"events": [make_event() for _ in range(10)]}
    response = client.post("/api/events/", padded(body, limit), content_type="application/json")
    assert response.status_code == 202, response.content[:300]
    assert response.json()["accepted"] == 10
    response = client.post("/api/events/", padded(body, limit + 1), content_type="application/json")
    assert_too_large(response.status_code, response.content)


def test_a_token_request_of_exactly_the_limit_is_accepted_and_one_byte_more_is_413(api, make_user):
    make_user("tess")
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    credentials = {"username": "tess", "password": PASSWORD}
    response = api.post("/api/auth/token/", padded(credentials, limit), content_type="application/json")
    assert response.status_code == 200 and response.json()["token"]
    response = api.post("/api/auth/token/", padded(credentials, limit + 1),
                        content_type="application/json")
    assert_too_large(response.status_code, response.content)


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_an_oversized_form_post_to_a_django_view_is_413_json(client, path):
    body = b"username=x&password=" + b"y" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = client.post(path, body, content_type="application/x-www-form-urlencoded")
    assert_too_large(response.status_code, response.content)


def chunked_post(server, path, body, chunk=64 * 1024):
    """POSTs `body` with Transfer-Encoding: chunked (no Content-Length) to a real server;
    returns (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        parts = (body[i:i + chunk] for i in range(0, len(body), chunk))
        conn.request("POST", path, body=parts, encode_chunked=True,
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.fixture
def server():
    started = start_daphne(env={"DATABASE_URL": database_url(), "REST_WRITE_RATE": "100000/min"})
    yield started
    started.stop()


def test_a_chunked_body_is_measured_too(server, make_user):
    make_user("tess")
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    credentials = {"username": "tess", "password": PASSWORD}
    status, body = chunked_post(server, "/api/auth/token/", padded(credentials, limit))
    assert status == 200 and orjson.loads(body)["token"], body[:300]
    status, body = chunked_post(server, "/api/auth/token/", padded(credentials, limit + 1))
    assert_too_large(status, body)
