"""The ingest task's failure handling: transient errors are retried with backoff, anything
else fails the batch (recorded, retryable), and retrying a failed batch resumes it."""

import pytest
from django.db import OperationalError

from feeds import services, tasks
from feeds.models import FeedItem, IngestBatch
from feeds.tasks import ingest_batch
from tests.feeds.conftest import make_event

pytestmark = pytest.mark.django_db


def test_the_task_is_configured_for_at_least_once_delivery():
    assert ingest_batch.acks_late and ingest_batch.reject_on_worker_lost
    assert set(ingest_batch.autoretry_for) == set(tasks.TRANSIENT_ERRORS)
    assert ingest_batch.retry_backoff and ingest_batch.max_retries == tasks.MAX_RETRIES
    assert ingest_batch.name == "feeds.tasks.ingest_batch"


def test_transient_errors_are_retried_until_the_batch_applies(feed, monkeypatch):
    batch = services.queue_events(source=None, events=[make_event(id="a")])
    real, calls = services.run_batch, []

    def flaky(batch_id):
        calls.append(batch_id)
        if len(calls) < 3:
            raise OperationalError("database is locked")
        return real(batch_id)

    monkeypatch.setattr(services, "run_batch", flaky)
    result = ingest_batch.apply(args=[batch.pk])
    assert result.get() == "done"
    assert len(calls) == 3
    assert FeedItem.objects.filter(external_id="a").exists()


def test_exhausted_retries_fail_the_batch(feed, monkeypatch):
    batch = services.queue_events(source=None, events=[make_event(id="a")])

    def down(batch_id):
        raise OperationalError("connection refused")

    monkeypatch.setattr(services, "run_batch", down)
    result = ingest_batch.apply(args=[batch.pk])
    assert result.failed()
    batch.refresh_from_db()
    assert batch.status == "failed"
    assert batch.errors[-1] == {"index": None, "field": None,
                                "message": "OperationalError: connection refused"}


def test_a_permanent_error_fails_the_batch_at_once_and_a_retry_resumes_it(
        feed, monkeypatch, settings, django_capture_on_commit_callbacks):
    settings.FEEDS_INGEST_CHUNK = 1
    batch = services.queue_events(source=None, events=[make_event(id="a"), make_event(id="b")])
    real_apply, calls = services.apply_events, []

    def broken_second_chunk(indexed):
        calls.append(indexed)
        if len(calls) == 2:
            raise ValueError("bug")
        return real_apply(indexed)

    monkeypatch.setattr(services, "apply_events", broken_second_chunk)
    assert ingest_batch.apply(args=[batch.pk]).get() == "failed"
    batch.refresh_from_db()
    assert (batch.status, batch.next_index, batch.created) == ("failed", 1, 1)
    assert batch.errors == [{"index": None, "field": None, "message": "ValueError: bug"}]
    # Nothing of the failed chunk was applied: it rolled back as one transaction.
    assert list(FeedItem.objects.values_list("external_id", flat=True)) == ["a"]

    monkeypatch.setattr(services, "apply_events", real_apply)
    monkeypatch.setattr(services, "_enqueue", lambda batch_id: ingest_batch.apply(args=[batch_id]))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.retry_batch(batch=batch) is True
    batch.refresh_from_db()
    assert (batch.status, batch.created, batch.errors, batch.attempts) == ("done", 2, [], 2)
    assert services.retry_batch(batch=batch) is False  # only failed batches


def test_a_batch_that_cannot_be_queued_is_kept_as_failed(feed, monkeypatch,
                                                         django_capture_on_commit_callbacks):
    from realtime.errors import Unavailable

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(ingest_batch, "delay", broker_down)
    with pytest.raises(Unavailable), django_capture_on_commit_callbacks(execute=True):
        services.queue_events(source=None, events=[make_event()])
    batch = IngestBatch.objects.get()
    assert batch.status == "failed" and "could not queue" in batch.errors[0]["message"]


def test_an_unknown_batch_id_is_ignored(db):
    assert ingest_batch(123456) is None
