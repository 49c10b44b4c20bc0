"""The webhook tunables, each with the reason for its value.  Read through `get(name)` so a
test (or a deployment's settings module) can override any of them with a Django setting of
the same name; only WEBHOOKS_ALLOW_PRIVATE_NETWORKS comes from the environment (README)."""

from django.conf import settings

DEFAULTS = {
    # Seconds one HTTP attempt may take per phase (connect, write, read): a receiver is
    # expected to answer 2xx at once and do its work later; a slow one holds back only
    # its own (endpoint, topic) queue, and a worker process for at most this long.
    "WEBHOOKS_TIMEOUT": 5.0,
    # Retry delays after a failed attempt: 10 s, 20 s, 40 s ... doubling up to 1 h, so a
    # receiver restart is retried within seconds and a day-long outage costs ~30 attempts.
    "WEBHOOKS_RETRY_BASE": 10.0,
    "WEBHOOKS_RETRY_MAX": 3600.0,
    # Seconds a delivery is retried before it is given up (status failed): a day covers a
    # weekend-free outage of the receiver and its on-call response.
    "WEBHOOKS_RETRY_FOR": 86400.0,
    # Seconds an endpoint may fail without one success before it is disabled and its
    # owner told in the admin: the same day.
    "WEBHOOKS_DISABLE_AFTER": 86400.0,
    # Seconds a worker holds the head delivery of a queue while sending it: longer than
    # three timeout phases plus recording, so only a dead worker's lease runs out; then
    # the sweep (Celery beat "webhooks-sweep", every 15 s: settings.CELERY_BEAT_SCHEDULE)
    # hands the queue to another worker.
    "WEBHOOKS_LEASE_SECONDS": 30.0,
    # Retries due within this many seconds are scheduled as a delayed task at once;
    # later ones are left to the sweep (long ETAs are unsafe with a Redis broker: they
    # come back after the visibility timeout).
    "WEBHOOKS_COUNTDOWN_MAX": 60.0,
    # Deliveries one task sends in a row before it chains a fresh task: keeps a busy
    # queue from pinning a worker process for minutes.
    "WEBHOOKS_BATCH": 50,
    # Seconds a process trusts its list of enabled endpoints: publish() consults it for
    # every event, so it must cost nothing; an endpoint saved elsewhere is seen this late.
    "WEBHOOKS_ENDPOINT_CACHE_SECONDS": 5.0,
    # Seconds presence must settle before room.occupied / room.vacated is decided: a
    # page reload (leave, then join a second later) announces nothing.
    "WEBHOOKS_OCCUPANCY_DEBOUNCE": 3.0,
    # TLS certificates are checked against the public CAs (certifi); a CA bundle path
    # instead for receivers with a private CA (with WEBHOOKS_ALLOW_PRIVATE_NETWORKS).
    "WEBHOOKS_VERIFY": True,
    # Bytes of a receiver's response kept on the attempt for the admin.
    "WEBHOOKS_RESPONSE_EXCERPT": 1024,
}


def get(name):
    """The value of tunable `name`: a Django setting of that name, else the default."""
    return getattr(settings, name, DEFAULTS[name])


def allow_private_networks():
    """Whether requests to loopback/private/link-local addresses are allowed (tests, and
    receivers on the same private network when an operator says so)."""
    return bool(getattr(settings, "WEBHOOKS_ALLOW_PRIVATE_NETWORKS", False))
