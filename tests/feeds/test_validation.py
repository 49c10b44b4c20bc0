"""Every kind of bad field is named, with the event's index; nothing bad gets through."""

import pytest

from feeds import limits
from feeds.validation import validate_event, validate_events
from tests.feeds.conftest import make_event

BAD_FIELDS = [
    ("id", None, "id is required"),
    ("id", "", "id must not be empty"),
    ("id", 17, "id must be a string"),
    ("id", "x" * (limits.MAX_EXTERNAL_ID + 1), "at most"),
    ("feed", None, "feed is required"),
    ("feed", ["news"], "feed must be a string"),
    ("kind", 3, "kind must be a string"),
    ("kind", "k" * (limits.MAX_KIND + 1), "at most"),
    ("title", "t" * (limits.MAX_TITLE + 1), "at most"),
    ("title", "nul\x00byte", "NUL"),
    ("body", {"text": "x"}, "body must be a string"),
    ("body", "b" * (limits.MAX_BODY + 1), "at most"),
    ("url", "javascript:alert(1)", "http(s) URL"),
    ("url", "not a url", "http(s) URL"),
    ("data", [1, 2], "data must be an object"),
    ("data", {"big": "x" * limits.MAX_DATA_BYTES}, "bytes of JSON"),
    ("data", {"n": 2**70}, "plain JSON"),
    ("data", {"s": "a\x00b"}, "NUL"),
    ("occurred_at", None, "occurred_at is required"),
    ("occurred_at", "yesterday", "ISO 8601"),
    ("occurred_at", 1700000000, "ISO 8601"),
    ("occurred_at", "2025-01-31T12:00:00", "time zone"),
    ("version", None, "version is required"),
    ("version", "3", "version must be an integer"),
    ("version", 1.5, "version must be an integer"),
    ("version", True, "version must be an integer"),
    ("version", -1, "between 0 and"),
    ("version", 2**63, "between 0 and"),
    ("deleted", "no", "deleted must be true or false"),
]


@pytest.mark.parametrize(("field", "value", "message"), BAD_FIELDS,
                         ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(BAD_FIELDS)])
def test_each_bad_field_is_named(field, value, message):
    raw = make_event()
    if value is None:
        raw.pop(field)
    else:
        raw[field] = value
    clean, problems = validate_event(raw)
    assert clean is None
    assert [f for f, _ in problems] == [field]
    assert message in problems[0][1]


def test_unknown_fields_and_non_objects_are_errors():
    _, problems = validate_event(make_event(ocurred_at="typo"))
    assert problems == [("ocurred_at", "unknown field 'ocurred_at'")]
    assert validate_event(["not", "an", "object"]) == (None, [(None, "each event must be an object")])


def test_a_good_event_is_normalised_with_defaults():
    clean, problems = validate_event({"id": "a", "feed": "news", "occurred_at": "2025-01-31T13:00:00+01:00",
                                      "version": 0, "kind": None})
    assert problems == []
    assert clean == {"id": "a", "feed": "news", "kind": "", "title": "", "body": "", "url": "", "data": {},
                     "occurred_at": "2025-01-31T12:00:00+00:00", "version": 0, "deleted": False}
    clean, _ = validate_event(make_event(occurred_at="2025-01-31T12:00:00Z"))
    assert clean["occurred_at"] == "2025-01-31T12:00:00+00:00"


def test_validate_events_reports_every_bad_event_by_index_and_unknown_feeds():
    events = [make_event(), make_event(version="x", title=5), make_event(feed="nope"), make_event()]
    clean, errors = validate_events(events, known_feeds={"news"}, first_index=10)
    assert len(clean) == 2
    assert errors == [
        {"index": 11, "field": "title", "message": "title must be a string"},
        {"index": 11, "field": "version", "message": "version must be an integer"},
        {"index": 12, "field": "feed", "message": "no feed 'nope'"},
    ]


URLS = ["https://example.com", "http://a.bc/", "https://sub.example.co.uk:8443/p?q=1#f",
        "https://xn--bcher-kva.example/x", "http://localhost/", "http://127.0.0.1/x",
        "http://[::1]/", "https://user:pw@example.com/", "https://exa_mple.com/", "https://-a.com/",
        "https://a-.com/", "https://example.c/", "https://example.123/", "https://example.com./",
        "https://example.com/a b", "https://example.com/a\u00a0b", "https://example.com/\u2028",
        "https://exämple.com/", "https://example.com:123456/", "ftp://example.com/",
        "https://example.com\\@evil.com/", "https://" + "a" * 64 + ".com/",
        "https://" + ("a" * 63 + ".") * 4 + "com/", "https://example.com/\n", "HTTPS://EXAMPLE.COM/"]


@pytest.mark.parametrize("url", URLS)
def test_the_fast_url_check_accepts_nothing_django_refuses(url):
    """The one-regex path for common URLs is a strict subset of URLValidator: the result
    is the same as URLValidator's for every URL."""
    from django.core.exceptions import ValidationError

    from feeds.validation import _url_validator

    try:
        _url_validator(url)
        expected = []
    except ValidationError:
        expected = [("url", "url must be an http(s) URL")]
    if len(url) > limits.MAX_URL:
        return
    _, problems = validate_event(make_event(url=url))
    assert problems == expected


def test_the_fast_url_check_agrees_with_django_on_generated_urls():
    from django.core.exceptions import ValidationError
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from feeds.validation import _SIMPLE_URL, _url_validator

    label = st.text("abcxyzAZ09-_é.", min_size=1, max_size=70)
    tail = st.text("/?#:@ab1 \u00a0\t.", max_size=8)

    @settings(max_examples=2000, deadline=None)
    @given(st.sampled_from(["http://", "https://", "ftp://", "http:/"]),
           st.lists(label, min_size=1, max_size=5), tail)
    def check(scheme, labels, rest):
        url = scheme + ".".join(labels) + rest
        if _SIMPLE_URL.match(url) and len(_SIMPLE_URL.match(url)["host"]) <= 253:
            try:
                _url_validator(url)
            except ValidationError:
                raise AssertionError(f"fast path accepted {url!r}, URLValidator refuses it") from None

    check()
