"""Credential and account endpoints cannot be hammered by forging X-Forwarded-For: every
login path (token, form, admin), sign-up and ticket issuance are throttled per client
address as realtime.client_address decides it, logins also per user name (failed ones, for
a bounded window); refusals are 429 with Retry-After equal to the body's wait, and a Redis
outage is 503, never a 500."""

import itertools
import re
import socket
import time

import pytest
import redis
from django.test import Client
from redis.backoff import NoBackoff
from redis.retry import Retry

from realtime import redis as realtime_redis
from realtime import throttles

pytestmark = pytest.mark.django_db

_forged = itertools.count(1)


def forged():
    """A fresh address per request, as a guesser rotating X-Forwarded-For would send."""
    n = next(_forged)
    return f"100.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


def _token(client, username, password, xff):
    return client.post("/api/auth/token/", {"username": username, "password": password},
                       content_type="application/json", HTTP_X_FORWARDED_FOR=xff)


def _form(path):
    def post(client, username, password, xff):
        return client.post(path, {"username": username, "password": password}, HTTP_X_FORWARDED_FOR=xff)
    return post


def _signup(client, username, password, xff):
    return client.post("/accounts/signup/", {"username": username, "password1": password,
                                             "password2": password + "x"}, HTTP_X_FORWARDED_FOR=xff)


def _ticket(client, username, password, xff):
    return client.post("/api/auth/ticket/", HTTP_AUTHORIZATION=f"Token {password}", HTTP_X_FORWARDED_FOR=xff)


PATHS = {"token": _token, "login form": _form("/accounts/login/"), "admin login": _form("/admin/login/"),
         "sign-up": _signup, "ticket": _ticket}
JSON_PATHS = {"token", "ticket"}


@pytest.fixture
def rates(settings, monkeypatch):
    """rates(n): every per-address throttle here allows n requests a minute."""
    def set_rates(n):
        monkeypatch.setattr(throttles.LoginRateThrottle, "rate", f"{n}/min", raising=False)
        settings.SIGNUP_RATE = settings.TICKET_RATE = f"{n}/min"
    return set_rates


def retry_after_of(response, json_body):
    """(Retry-After header, the wait the body states) of a 429/503."""
    if json_body:
        stated = response.json()["error"]["retry_after"]
    else:
        stated = int(re.search(rb"Try again in (\d+) seconds", response.content).group(1))
    return int(response["Retry-After"]), stated


@pytest.mark.parametrize("trusted", [0, 1])
@pytest.mark.parametrize("name", PATHS)
def test_guessing_with_a_fresh_forged_forwarded_for_per_request_is_throttled(settings, rates, name, trusted):
    settings.TRUSTED_PROXY_COUNT = trusted
    rates(3)
    post, client = PATHS[name], Client()
    # trusted 0: the whole header is the client's and ignored.  trusted 1: nginx appended
    # the real peer (last); the forged entries left of it are ignored.
    real = "198.51.100.7"
    header = (lambda: f"{forged()}, {forged()}") if trusted == 0 else (lambda: f"{forged()}, {real}")
    statuses = [post(client, "victim", f"guess{n}", header()).status_code for n in range(4)]
    assert 429 not in statuses[:3] and statuses[3] == 429
    refused = post(client, "victim", "guess-again", header())
    assert refused.status_code == 429
    header_wait, stated = retry_after_of(refused, name in JSON_PATHS)
    assert 0 < header_wait == stated <= 60
    if name in JSON_PATHS:
        assert refused.json()["error"]["code"] == "rate_limited"
    else:
        assert refused["Content-Type"].startswith("text/html") and b"Too many attempts" in refused.content
    if trusted == 1:  # another real client behind the same proxy is counted apart
        assert post(client, "victim", "guess", f"{forged()}, 198.51.100.8").status_code != 429


@pytest.mark.parametrize("name", ["token", "login form", "admin login"])
def test_a_guesser_rotating_real_addresses_is_stopped_per_user_name_for_a_bounded_window(
        settings, rates, make_user, name):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.LOGIN_FAILURES_PER_USERNAME = 3
    settings.LOGIN_FAILURE_WINDOW = 2
    rates(1000)
    make_user("victim", is_staff=True)
    post, client = PATHS[name], Client()
    assert 429 not in [post(client, "Victim", f"guess{n}", forged()).status_code for n in range(3)]
    # Now even the right password is refused, from any address, until the window ends...
    refused = post(client, "victim", "pw-victim", forged())
    assert refused.status_code == 429
    header_wait, stated = retry_after_of(refused, name in JSON_PATHS)
    assert 0 < header_wait == stated <= 2
    # ...and no longer: the lock-out lasts at most LOGIN_FAILURE_WINDOW after the guessing.
    deadline = time.monotonic() + 5
    while (status := post(Client(), "victim", "pw-victim", forged()).status_code) == 429:
        assert time.monotonic() < deadline, "still locked out after the window"
        time.sleep(0.1)
    assert status in (200, 302)


def test_successful_logins_do_not_count_against_the_user_name(settings, rates, make_user):
    settings.LOGIN_FAILURES_PER_USERNAME = 2
    rates(1000)
    make_user("regular")
    for _ in range(5):
        assert _token(Client(), "regular", "pw-regular", forged()).status_code == 200


@pytest.fixture
def redis_down(monkeypatch):
    """The throttles' Redis client pointed at a port nothing listens on (a real refusal)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Retrying as the site's own client does (realtime.redis: CONNECTION_RETRIES, at once),
    # not with redis-py's default backoff, which only made each request wait seconds.
    dead = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1,
                       retry=Retry(NoBackoff(), realtime_redis.CONNECTION_RETRIES))
    monkeypatch.setattr(throttles, "sync_client", lambda: dead)


@pytest.mark.usefixtures("redis_down")
@pytest.mark.parametrize("name", PATHS)
def test_while_redis_is_down_every_throttled_path_answers_503_not_500(name):
    response = PATHS[name](Client(raise_request_exception=False), "someone", "pw", forged())
    assert response.status_code == 503
    header_wait, stated = retry_after_of(response, name in JSON_PATHS)
    assert header_wait == stated > 0
    if name in JSON_PATHS:
        assert response.json()["error"]["code"] == "unavailable"
    else:
        assert response["Content-Type"].startswith("text/html")
