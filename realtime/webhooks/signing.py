"""Signatures: `Switchboard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`.

The Stripe-style scheme: the timestamp is inside the signed text, so a receiver that
rejects old timestamps (docs/webhooks.md: 5 minutes) rejects replays of a captured request.
"""

import hashlib
import hmac
import secrets
import time

HEADER = "Switchboard-Signature"
# "whsec_" + 32 random bytes: recognisable in a config file, unguessable.
SECRET_PREFIX = "whsec_"


def new_secret():
    """A fresh endpoint secret (shown once, at creation or rotation)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret, timestamp, body):
    """The hex HMAC-SHA256 of `"<timestamp>.<body>"` keyed with the secret's UTF-8 bytes."""
    message = str(int(timestamp)).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def header(secret, body, timestamp=None):
    """The Switchboard-Signature header value for `body` (bytes) sent now (or at timestamp)."""
    timestamp = int(time.time() if timestamp is None else timestamp)
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret, body, value, *, tolerance=300, now=None):
    """True when `value` (the header) signs `body` with `secret` within `tolerance` seconds
    of now: what a receiver does (a Python example of it is in docs/webhooks.md)."""
    parts = dict(part.split("=", 1) for part in value.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(parts.get("v1", ""), signature(secret, timestamp, body))
