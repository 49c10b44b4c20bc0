"""REST throttles, counted in Redis through the process's shared client.

Django's cache would do, but under ASGI it keeps a cache object (and so a new Redis
connection) per request context: every throttled request paid a connect.
"""

import orjson
from rest_framework.throttling import SimpleRateThrottle

from realtime.redis import sync_client


class RedisHistory:
    """The tiny part of Django's cache API that SimpleRateThrottle uses (get/set)."""

    prefix = "sb:throttle:"

    def get(self, key, default=None):
        raw = sync_client().get(self.prefix + key)
        return orjson.loads(raw) if raw else default

    def set(self, key, value, timeout=None):
        sync_client().set(self.prefix + key, orjson.dumps(value), ex=max(1, int(timeout or 1)))


class RedisRateThrottle(SimpleRateThrottle):
    cache = RedisHistory()


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
    """Credential checks (POST /api/auth/token/) per client address: slows password
    guessing whatever username is tried."""

    scope = "login"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
