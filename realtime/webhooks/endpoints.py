"""Registering endpoints: the one place the admin and /api/webhooks/ create, change and
rotate them.  Each raises realtime.errors.Invalid (with its field) on bad input."""

import re

from django.conf import settings
from django.db import transaction

from realtime.errors import Invalid
from realtime.webhooks import delivery, signing, ssrf
from realtime.webhooks.models import EVENTS, WebhookEndpoint

# A topic glob: topic characters plus * ? [ ] (fnmatch).
TOPIC_FILTER_RE = re.compile(r"^[A-Za-z0-9:_.\-*?\[\]]{1,140}$")
MAX_URL = 500


def clean_url(url):
    """An http(s) URL of a host that is not a literal private address; https only when
    DEBUG is off (a secret-signed body is still readable on the wire)."""
    url = (url or "").strip()
    if not url or len(url) > MAX_URL:
        raise Invalid(f"Give the receiver's URL (at most {MAX_URL} characters).", field="url")
    scheme, _, _ = ssrf.parse(url)
    if scheme != "https" and not settings.DEBUG:
        raise Invalid("The URL must be https.", field="url")
    ssrf.check_literal(url)
    return url


def clean_events(events):
    """A non-empty list of known event types, without repeats, in the order given."""
    if not isinstance(events, (list, tuple)) or not events:
        raise Invalid(f"Choose one or more events: {', '.join(EVENTS)}.", field="events")
    unknown = [e for e in events if not isinstance(e, str) or e not in EVENTS]
    if unknown:
        raise Invalid(f"Unknown event {unknown[0]!r}; known: {', '.join(EVENTS)}.", field="events")
    return list(dict.fromkeys(events))


def clean_topic_filter(value):
    value = (value or "").strip()
    if value and not TOPIC_FILTER_RE.match(value):
        raise Invalid("A topic glob such as room:* or room:lobby (letters, digits, : _ . - * ? [ ]).",
                      field="topic_filter")
    return value


def create(*, owner, url, events, topic_filter="", description="", enabled=True):
    """Registers an endpoint with a fresh secret; returns (endpoint, secret) — the only
    time the secret is handed out besides rotate()."""
    secret = signing.new_secret()
    endpoint = WebhookEndpoint.objects.create(
        owner=owner, url=clean_url(url), events=clean_events(events),
        topic_filter=clean_topic_filter(topic_filter), description=(description or "")[:200],
        enabled=bool(enabled), secret=secret)
    return endpoint, secret


def update(endpoint, **changes):
    """Applies the given changes (url, events, topic_filter, description, enabled);
    enabling a disabled endpoint clears its failure record and restarts its queues."""
    cleaners = {"url": clean_url, "events": clean_events, "topic_filter": clean_topic_filter,
                "description": lambda v: (v or "")[:200]}
    was_enabled = endpoint.enabled
    with transaction.atomic():
        for name, value in changes.items():
            if name in cleaners:
                setattr(endpoint, name, cleaners[name](value))
        if "enabled" in changes:
            endpoint.enabled = bool(changes["enabled"])
        endpoint.save()
        if endpoint.enabled and not was_enabled:
            delivery.enable(endpoint)
            endpoint.refresh_from_db()
    return endpoint


def rotate(endpoint):
    """Gives the endpoint a new secret and returns it (shown once).  Deliveries sent from
    now on are signed with it."""
    secret = signing.new_secret()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret=secret)
    endpoint.secret = secret
    return secret
