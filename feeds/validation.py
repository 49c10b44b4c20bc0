"""Validation of change events: everything is checked before anything is queued, and
again by the task (a stored payload is input too).

A clean event is a dict of JSON primitives, ready to be stored on an IngestBatch:
{"id", "feed", "kind", "title", "body", "url", "data", "occurred_at" (ISO 8601, UTC),
"version", "deleted"}.  Errors are {"index", "field", "message"} dicts, one per bad field.
"""

import datetime
import re

import orjson
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from feeds import limits

FIELDS = ("id", "feed", "kind", "title", "body", "url", "data", "occurred_at", "version", "deleted")
REQUIRED = ("id", "feed", "occurred_at", "version")
_url_validator = URLValidator(schemes=["http", "https"])
# The common case, checked with one regex: http(s), an ASCII host name with a TLD, an
# optional port and path.  Everything it matches URLValidator accepts too (a strict
# subset of its pattern: no user:password, IP or IDN host); the rest still goes through
# URLValidator, which costs far more per URL (a batch checks thousands of them).
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_SIMPLE_URL = re.compile(rf"https?://(?P<host>(?:{_LABEL}\.)+[A-Za-z]{{2,63}})(?::[0-9]{{1,5}})?"
                         r"(?:[/?#][^\s]*)?\Z")


def _text(value, name, max_length, *, required=False):
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    if required and not value.strip():
        raise ValueError(f"{name} must not be empty")
    if len(value) > max_length:
        raise ValueError(f"{name} must be at most {max_length} characters")
    if "\x00" in value:  # PostgreSQL cannot store NUL in text
        raise ValueError(f"{name} must not contain NUL characters")
    return value


def _occurred_at(value):
    if not isinstance(value, str) or len(value) > 64:
        raise ValueError("occurred_at must be an ISO 8601 date-time string")
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("occurred_at must be an ISO 8601 date-time, e.g. 2025-01-31T12:00:00Z") from None
    if parsed.tzinfo is None:
        # A naive time would be ordered differently depending on the server's zone.
        raise ValueError("occurred_at must include a time zone (e.g. Z or +01:00)")
    return parsed.astimezone(datetime.UTC).isoformat()


def _version(value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("version must be an integer")
    if not 0 <= value <= limits.MAX_VERSION:
        raise ValueError(f"version must be between 0 and {limits.MAX_VERSION}")
    return value


def _url(value):
    _text(value, "url", limits.MAX_URL)
    simple = _SIMPLE_URL.match(value)
    if simple and len(simple["host"]) <= 253:
        return value
    if value:
        try:
            _url_validator(value)
        except ValidationError:
            raise ValueError("url must be an http(s) URL") from None
    return value


def _data(value):
    if not isinstance(value, dict):
        raise ValueError("data must be an object")
    try:
        encoded = orjson.dumps(value)
    except TypeError:
        raise ValueError("data must be plain JSON (integers within 64 bits)") from None
    if len(encoded) > limits.MAX_DATA_BYTES:
        raise ValueError(f"data must be at most {limits.MAX_DATA_BYTES} bytes of JSON")
    if b"\\u0000" in encoded:
        raise ValueError("data must not contain NUL characters")
    return value


def _deleted(value):
    if not isinstance(value, bool):
        raise ValueError("deleted must be true or false")
    return value


_CHECKS = {
    "id": lambda v: _text(v, "id", limits.MAX_EXTERNAL_ID, required=True),
    "feed": lambda v: _text(v, "feed", 50, required=True),
    "kind": lambda v: _text(v, "kind", limits.MAX_KIND),
    "title": lambda v: _text(v, "title", limits.MAX_TITLE),
    "body": lambda v: _text(v, "body", limits.MAX_BODY),
    "url": _url,
    "data": _data,
    "occurred_at": _occurred_at,
    "version": _version,
    "deleted": _deleted,
}
_DEFAULTS = {"kind": "", "title": "", "body": "", "url": "", "data": None, "deleted": False}


def validate_event(raw):
    """(clean event or None, [(field, message), ...]) for one raw event."""
    if not isinstance(raw, dict):
        return None, [(None, "each event must be an object")]
    problems = [(name, f"unknown field {name!r}") for name in raw if name not in FIELDS]
    clean = {}
    for name in FIELDS:
        if name not in raw or raw[name] is None:
            if name in REQUIRED:
                problems.append((name, f"{name} is required"))
            else:
                default = _DEFAULTS[name]
                clean[name] = {} if default is None else default
            continue
        try:
            clean[name] = _CHECKS[name](raw[name])
        except ValueError as exc:
            problems.append((name, str(exc)))
    return (None if problems else clean), problems


def validate_events(raw_events, *, known_feeds, first_index=0):
    """(clean events, errors) for a list of raw events; `known_feeds` is the set of slugs
    that exist.  Errors are bounded to MAX_REPORTED_ERRORS; `first_index` numbers them
    when the list is part of a larger upload."""
    clean_events, errors = [], []
    for offset, raw in enumerate(raw_events):
        index = first_index + offset
        clean, problems = validate_event(raw)
        if clean is not None and clean["feed"] not in known_feeds:
            problems = [("feed", f"no feed {clean['feed']!r}")]
        if problems:
            for field, message in problems:
                errors.append({"index": index, "field": field, "message": message})
        else:
            clean_events.append(clean)
    return clean_events, errors


def bounded(errors):
    """The first MAX_REPORTED_ERRORS errors (what is stored and reported)."""
    return errors[: limits.MAX_REPORTED_ERRORS]
