"""Limits of the feeds app, each with why its value.  Each can be overridden by a Django
setting of the same name (tests do) or, for deployments, an environment variable."""

from django.conf import settings

from project.env import get_float, get_int


def _setting(name, default):
    return getattr(settings, name, default)


# Events accepted in one POST /api/events/: 5,000 typical events are 1-3 MB of JSON,
# validated in well under a second; bigger uploads are split (ingest_events does it).
DEFAULT_MAX_BATCH_EVENTS = get_int("FEEDS_MAX_BATCH_EVENTS", 5000)
# Bytes of one POST /api/events/ body: 5,000 events with long bodies, yet bounded so one
# request cannot make a web process buffer hundreds of megabytes.  5,000 events whose every
# field is at its maximum (~29 KB each) would be ~140 MB: such batches are split by size
# too (docs/protocol/feeds.md).  Enforced, 413 too_large, by project.middleware.
DEFAULT_MAX_BATCH_BYTES = get_int("FEEDS_MAX_BATCH_BYTES", 32 * 1024 * 1024)
# Events applied per database transaction by the task: big enough for bulk statements
# to pay off, small enough that a chunk holds the feed's lock (and SQLite's write lock)
# for a fraction of a second and a retried chunk redoes little.
DEFAULT_INGEST_CHUNK = get_int("FEEDS_INGEST_CHUNK", 500)
# Seconds the task pauses between chunks.  0 in production on PostgreSQL; on SQLite a
# short pause lets web requests take the single write lock during a long ingest.
DEFAULT_INGEST_CHUNK_PAUSE = get_float("FEEDS_INGEST_CHUNK_PAUSE", 0.0)


def max_batch_events():
    return _setting("FEEDS_MAX_BATCH_EVENTS", DEFAULT_MAX_BATCH_EVENTS)


def max_batch_bytes():
    return _setting("FEEDS_MAX_BATCH_BYTES", DEFAULT_MAX_BATCH_BYTES)


def ingest_chunk():
    return max(1, _setting("FEEDS_INGEST_CHUNK", DEFAULT_INGEST_CHUNK))


def ingest_chunk_pause():
    return _setting("FEEDS_INGEST_CHUNK_PAUSE", DEFAULT_INGEST_CHUNK_PAUSE)


# Field limits of one event / item.  Titles and kinds are shown in lists; bodies are
# summaries (a feed is not a document store), data is small structured metadata.
MAX_EXTERNAL_ID = 200
MAX_KIND = 50
MAX_TITLE = 300
MAX_BODY = 10_000
MAX_URL = 2000
MAX_DATA_BYTES = 16 * 1024
# Largest version: PostgreSQL's bigint.
MAX_VERSION = 2**63 - 1

# Per-event errors kept on a batch and reported in one 400: enough to fix a systematic
# mistake, bounded so a 5,000-event garbage upload does not answer with 5,000 errors.
MAX_REPORTED_ERRORS = 100

# Items in one `feed.items` event: a 5,000-item batch becomes ~10 frames per client
# instead of 5,000, while one frame stays small enough for a browser to parse at once.
FEED_ITEMS_PER_EVENT = 500
# ... and at most about this many bytes of items (long bodies): ~256 KiB keeps a frame
# well under what a client's socket buffers comfortably, whatever the items hold.
FEED_ITEMS_EVENT_BYTES = 256 * 1024

# feed.history / REST pages: a screenful, and a bound on one request's work.
HISTORY_DEFAULT_LIMIT = 50
HISTORY_MAX_LIMIT = 100
REST_PAGE_SIZE = 50
REST_MAX_PAGE_SIZE = 200
