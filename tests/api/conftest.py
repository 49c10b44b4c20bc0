"""Fixtures of the API contract tests: a real Celery worker (tests/feeds/conftest.py's)."""

from tests.feeds.conftest import celery_worker  # noqa: F401  (a fixture, used by name)
