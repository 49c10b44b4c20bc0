"""`manage.py ingest_events`: JSON arrays and JSON Lines, validated first, queued in chunks."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from feeds.models import IngestBatch
from feeds.tasks import ingest_batch
from tests.feeds.conftest import make_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    sent = []
    monkeypatch.setattr(ingest_batch, "delay", lambda batch_id: sent.append(batch_id))
    return sent


def run(*args, stdin=None, monkeypatch=None):
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    call_command("ingest_events", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_a_json_array_is_queued_in_batches_with_progress_and_a_summary(
        feed, tmp_path, user, queued, django_capture_on_commit_callbacks):
    path = tmp_path / "events.json"
    path.write_text(json.dumps([make_event() for _ in range(5)]))
    with django_capture_on_commit_callbacks(execute=True):
        out, err = run(str(path), "--batch-size", "2", "--source", user.username)
    batches = list(IngestBatch.objects.order_by("id"))
    assert [b.received for b in batches] == [2, 2, 1]
    assert {b.source for b in batches} == {user}
    assert queued == [b.pk for b in batches]
    assert "Queued 5 events in 3 batch(es)" in out
    assert "5/5 validated" in err and "5/5 queued" in err and "#" * 30 in err


def test_json_lines_from_stdin(feed, monkeypatch, queued):
    lines = "\n".join(json.dumps(make_event()) for _ in range(3)) + "\n\n"
    out, _ = run("-", stdin=lines, monkeypatch=monkeypatch)
    assert IngestBatch.objects.get().received == 3
    assert "Queued 3 events in 1 batch(es)" in out


def test_a_bad_event_anywhere_queues_nothing_and_names_event_line_and_field(feed, monkeypatch, queued):
    lines = "\n".join(json.dumps(e) for e in [make_event(), make_event(), make_event(version=-2)])
    with pytest.raises(CommandError, match="1 error"):
        run("-", "--batch-size", "1", stdin="\n" + lines, monkeypatch=monkeypatch)
    assert IngestBatch.objects.count() == 0 and queued == []


def test_the_error_report_names_the_line(feed, monkeypatch, queued, capsys):
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(make_event()) + "\n\n" +
                                                 json.dumps(make_event(feed="nope"))))
    with pytest.raises(CommandError):
        call_command("ingest_events", "-", stdout=out, stderr=err)
    assert "event 1 (line 3): feed: no feed 'nope'" in err.getvalue()


@pytest.mark.parametrize(("content", "message"), [
    ("", "no events"), ("[1, 2", "not valid JSON"), ("{\"a\": 1}\n{oops", "line 2: not valid JSON")])
def test_unreadable_files_are_errors(feed, tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(CommandError, match=message):
        run(str(path))


def test_a_missing_file_or_user_is_an_error(feed, tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        run(str(tmp_path / "missing.json"))
    with pytest.raises(CommandError, match="no user"):
        run(str(tmp_path / "missing.json"), "--source", "ghost")
