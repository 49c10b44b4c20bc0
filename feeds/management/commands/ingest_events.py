"""`manage.py ingest_events PATH`: validates a file of change events (a JSON array or JSON
Lines; `-` reads stdin) and queues it as ingest batches, with progress on stderr.

Everything is validated before anything is queued (the same rules as POST /api/events/);
then the events go out in batches of at most FEEDS_MAX_BATCH_EVENTS, each one
IngestBatch and one feeds.tasks.ingest_batch task.
"""

import json
import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from feeds import limits, services
from realtime.errors import Invalid, ProtocolError

# Width of the text progress bar.
BAR_WIDTH = 30


def read_events(stream):
    """(events, line numbers or None): a JSON array, or one JSON object per line."""
    text = stream.read()
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            events = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(f"not valid JSON: {exc}") from None
        return events, None
    events, lines = [], []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise CommandError(f"line {number}: not valid JSON: {exc.msg}") from None
        lines.append(number)
    return events, lines


class Command(BaseCommand):
    help = "Validate a JSON / JSON Lines file of change events and queue it for ingestion."

    def add_arguments(self, parser):
        parser.add_argument("path", help="a .json file (array of events) or .jsonl; '-' for stdin")
        parser.add_argument("--source", help="username recorded as the batches' producer")
        parser.add_argument("--batch-size", type=int, default=None,
                            help="events per batch (default and maximum: FEEDS_MAX_BATCH_EVENTS)")

    def handle(self, *args, path, source=None, batch_size=None, **options):
        user = None
        if source:
            user = get_user_model().objects.filter(username=source).first()
            if user is None:
                raise CommandError(f"no user {source!r}")
        maximum = limits.max_batch_events()
        size = min(batch_size or maximum, maximum)
        if size < 1:
            raise CommandError("--batch-size must be positive")
        if path == "-":
            events, lines = read_events(sys.stdin)
        else:
            try:
                with open(path, encoding="utf-8") as stream:
                    events, lines = read_events(stream)
            except OSError as exc:
                raise CommandError(f"cannot read {path}: {exc.strerror}") from None
        if not isinstance(events, list):
            raise CommandError("the file must hold a JSON array of events, or one event per line")
        if not events:
            raise CommandError("no events in the file")
        chunks = [events[i:i + size] for i in range(0, len(events), size)]
        # Validate everything first: a bad event anywhere queues nothing.
        for number, chunk in enumerate(chunks):
            try:
                services.check_events(chunk, first_index=number * size)
            except Invalid as exc:
                self._report_invalid(exc, lines)
            self._progress("validated", min((number + 1) * size, len(events)), len(events))
        batches, queued = [], 0
        for chunk in chunks:
            try:
                batch = services.queue_events(source=user, events=chunk)
            except ProtocolError as exc:
                self.stderr.write("")
                raise CommandError(f"queued {queued} events in {len(batches)} batches, then: "
                                   f"{exc.message}") from None
            batches.append(batch.pk)
            queued += len(chunk)
            self._progress("queued", queued, len(events))
        self.stdout.write(f"Queued {queued} events in {len(batches)} batch(es): "
                          f"{', '.join(map(str, batches))}. Follow them at /api/events/batches/<id>/ "
                          "or in the admin.")

    def _report_invalid(self, exc, lines):
        self.stderr.write("")
        for error in exc.extra.get("errors", []):
            where = f"event {error['index']}"
            if lines is not None and error["index"] < len(lines):
                where += f" (line {lines[error['index']]})"
            field = f" {error['field']}:" if error["field"] else ""
            self.stderr.write(f"{where}:{field} {error['message']}")
        total = exc.extra.get("error_count", 0)
        raise CommandError(f"{total} error(s); nothing was queued.")

    def _progress(self, what, done, total):
        filled = BAR_WIDTH * done // total
        end = "\n" if done >= total else ""
        self.stderr.write(f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total} {what}",
                          ending=end)
        self.stderr.flush()
