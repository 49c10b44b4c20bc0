"""Throttles, counted in Redis through the process's shared client, keyed on the client
address that realtime.client_address decides (never on a raw X-Forwarded-For).

Django's cache would do, but under ASGI it keeps a cache object (and so a new Redis
connection) per request context: every throttled request paid a connect.

Two kinds:
- request rates (DRF's SimpleRateThrottle with Redis as its store): REST writes per user,
  and per address the credential and account endpoints (login, sign-up, tickets), checked
  by project.middleware.LoginThrottleMiddleware before their views run;
- failed logins per user name (`check_username` / the user_login_failed receiver): stops a
  guesser who rotates addresses against one account, for a bounded window only, so nobody
  can lock a real user out for longer than LOGIN_FAILURE_WINDOW after the guessing stops.

Why not django-axes: it counts failures per user name and address over any authenticate()
call, which is the second kind above, but not the first (sign-up and ticket issuance are not
logins, and a request rate must be refused before the password hash is computed); it keeps
its counts in the database (a row written per attacker request) or Django's cache (the
per-request connection above), brings its own client-address rules (ipware), and answers
lockouts in its own shape.  Two systems for one concern; this is ~100 lines on DRF's.
"""

import hashlib
import logging
import math

import orjson
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed
from redis.exceptions import RedisError
from rest_framework.throttling import SimpleRateThrottle

from realtime.client_address import client_address
from realtime.errors import RateLimited
from realtime.redis import sync_client

logger = logging.getLogger("realtime.throttles")

PREFIX = "sb:throttle:"


class RedisHistory:
    """The tiny part of Django's cache API that SimpleRateThrottle uses (get/set)."""

    def get(self, key, default=None):
        raw = sync_client().get(PREFIX + key)
        return orjson.loads(raw) if raw else default

    def set(self, key, value, timeout=None):
        sync_client().set(PREFIX + key, orjson.dumps(value), ex=max(1, int(timeout or 1)))


class RedisRateThrottle(SimpleRateThrottle):
    """DRF's sliding-window throttle stored in Redis, keyed on the trusted client address
    (DRF's own get_ident reads X-Forwarded-For per NUM_PROXIES; ours follows
    TRUSTED_PROXY_COUNT, the one rule for the whole site)."""

    cache = RedisHistory()

    def get_ident(self, request):
        return client_address(request)

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class WriteRateThrottle(RedisRateThrottle):
    """Throttles REST writes (POST/PUT/PATCH/DELETE) per user, or per address when
    anonymous; reads are not throttled (they are cheap and cached by clients)."""

    scope = "writes"

    def allow_request(self, request, view):
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            ident = request.user.pk
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class LoginRateThrottle(RedisRateThrottle):
    """Credential checks (token endpoint, login form, admin login) per client address:
    slows password guessing whatever user name is tried.  Rate: REST_LOGIN_RATE."""

    scope = "login"


class SignupRateThrottle(RedisRateThrottle):
    """Sign-ups per client address.  Rate: SIGNUP_RATE."""

    scope = "signup"

    def get_rate(self):
        return settings.SIGNUP_RATE


class TicketRateThrottle(RedisRateThrottle):
    """Connect-ticket requests per client address, whether or not their credential holds
    (a token guesser is counted before authentication).  Rate: TICKET_RATE."""

    scope = "ticket"

    def get_rate(self):
        return settings.TICKET_RATE


def check_rate(throttle_class, request):
    """Counts this request against `throttle_class` (a RedisRateThrottle); raises
    RateLimited(retry_after=whole seconds) when it is over.  Redis errors propagate (the
    caller answers 503)."""
    throttle = throttle_class()
    if not throttle.allow_request(request, None):
        wait = max(1, math.ceil(throttle.wait() or 1))
        raise RateLimited("Too many attempts from your address; try again later.", retry_after=wait)


# --- failed logins per user name ------------------------------------------------------
def _username_key(username):
    """The Redis key for a user name: case-folded (Alice and alice are one budget) and
    hashed (any length or character a form accepts makes a short, safe key)."""
    digest = hashlib.sha256(str(username).strip().casefold().encode()).hexdigest()[:32]
    return f"{PREFIX}login-failures:{digest}"


def check_username(username):
    """Raises RateLimited when `username` has had LOGIN_FAILURES_PER_USERNAME failed logins
    in its current window (retry_after: what is left of the window).  Called before the
    credentials are checked; an empty name is not counted."""
    if not username:
        return
    key = _username_key(username)
    pipe = sync_client().pipeline(transaction=False)
    pipe.get(key)
    pipe.ttl(key)
    count, ttl = pipe.execute()
    if count is not None and int(count) >= settings.LOGIN_FAILURES_PER_USERNAME:
        raise RateLimited("Too many failed logins for this account; try again later.",
                          retry_after=max(1, int(ttl) if ttl and ttl > 0 else 1))


def record_login_failure(username):
    """Counts one failed login for `username`; the window starts at the first failure and
    is not extended by later ones (a bounded lock-out)."""
    if not username:
        return
    key = _username_key(username)
    pipe = sync_client().pipeline(transaction=True)
    pipe.set(key, 0, ex=settings.LOGIN_FAILURE_WINDOW, nx=True)
    pipe.incr(key)
    pipe.execute()


def _on_login_failed(sender, credentials, request=None, **kwargs):
    """user_login_failed receiver: every authenticate() that fails (login form, admin
    login, the token endpoint) counts against the user name it tried.  A Redis failure
    is logged, not raised: a login answers its own error rather than a 500."""
    username = credentials.get(get_user_model().USERNAME_FIELD)
    try:
        record_login_failure(username)
    except RedisError as exc:
        logger.warning("could not count a failed login: %s", exc)


user_login_failed.connect(_on_login_failed, dispatch_uid="realtime.throttles.login_failed")
