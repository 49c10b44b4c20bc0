"""Settings for the baseline: the Channels tutorial "mysite" project, trimmed to what it needs.

Run from the repo root:
    DJANGO_SETTINGS_MODULE=bench.baseline.settings \
        python -m daphne -b 127.0.0.1 -p 8101 bench.baseline.asgi:application
"""
import os
import tempfile

SECRET_KEY = "bench-baseline-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "daphne",
    "bench.baseline",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
]

ROOT_URLCONF = "bench.baseline.urls"
ASGI_APPLICATION = "bench.baseline.asgi.application"

# The tutorial uses sqlite; no query is ever made by an anonymous websocket, so the
# file is never even created in practice. Kept out of the work tree.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.path.join(tempfile.gettempdir(), "switchboard-bench-baseline.sqlite3"),
    }
}

# The tutorial's channel layer, pointed at REDIS_URL (db 15 by default: the bench's own db).
# One deviation from the textbook: redis-py 8 made socket_timeout default to 5 s, the same as
# channels_redis' blocking BZPOPMIN timeout, so an idle consumer's receive() sometimes raises
# redis TimeoutError and its websocket is dropped (seen here; redis/redis-py#4091,
# django/channels_redis#422). socket_timeout=None restores the redis-py 7 behaviour.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [{"address": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
                              "socket_timeout": None}]},
    },
}

USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGGING = {"version": 1, "disable_existing_loggers": False,
           "root": {"handlers": [], "level": "WARNING"}}
