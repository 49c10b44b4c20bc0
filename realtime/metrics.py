"""Prometheus metrics of this process (GET /metrics).

Counted where it is cheap: per frame received, per publish received by the hub (with the
number of local recipients), never per recipient in a loop.
"""

import hmac

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from realtime.client_address import is_direct_loopback
from realtime.errors import NotFound, Unauthenticated

CONNECTIONS = Gauge("switchboard_connections", "Open WebSocket connections in this process")
SUBSCRIPTIONS = Gauge("switchboard_subscriptions", "Topic subscriptions in this process")
TOPICS = Gauge("switchboard_topics", "Topics this process follows in Redis")
FRAMES_IN = Counter("switchboard_frames_in_total", "Frames received, by action", ["action"])
FRAMES_OUT = Counter("switchboard_frames_out_total", "Event frames sent to clients, by event", ["event"])
ERRORS = Counter("switchboard_errors_total", "Error frames sent, by code", ["code"])
CLOSES = Counter("switchboard_closes_total", "Connections closed by the server, by close code", ["code"])
DELIVERY_SECONDS = Histogram(
    "switchboard_publish_to_deliver_seconds",
    "From publish (after commit) to this process handing the frame to its sockets",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
OUTBOX_FILLS = Counter("switchboard_outbox_fills_total",
                       "Events read from the outbox to fill a gap (a broadcast arrived late or was lost)")
WRITES_PENDING = Gauge("switchboard_writes_pending",
                       "Writes waiting in this process (queued chat.send plus REST/admin writes running)")
WRITES_REFUSED = Counter("switchboard_writes_refused_total",
                         "Writes refused `overloaded` (over REALTIME_MAX_PENDING_WRITES or "
                         "REALTIME_MAX_WRITE_WAIT_SECONDS), by path", ["path"])
WRITE_BATCH_SIZE = Histogram("switchboard_write_batch_size", "chat.send writes per transaction",
                             buckets=(1, 2, 5, 10, 20, 50, 100, 200))
_frames_out = {}


def frames_out(event):
    """The FRAMES_OUT child of an event name, looked up once per name: `labels()` builds
    and locks a key on every call, a cost paid per event delivered by the hub."""
    child = _frames_out.get(event)
    if child is None:
        child = _frames_out[event] = FRAMES_OUT.labels(event)
    return child


INGEST_BATCH_SECONDS = Histogram(
    "switchboard_ingest_batch_seconds", "Duration of ingest batches (exported by the process that ran them)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)


def metrics_view(request):
    """GET /metrics: for a direct loopback caller (Prometheus on this machine scraping each
    process's own port), or anyone sending `Authorization: Bearer <METRICS_TOKEN>`.  Anyone
    else gets 404 `not_found` when no token is configured (there is nothing to log in to),
    401 `unauthenticated` when one is and theirs is missing or wrong."""
    if not is_direct_loopback(request):
        expected = settings.METRICS_TOKEN
        if not expected:
            return _refuse(NotFound())
        scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        # Constant time: the comparison must not tell a guesser how much of it was right.
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
            response = _refuse(Unauthenticated("A valid metrics bearer token is required."))
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)


def _refuse(error):
    return JsonResponse({"error": error.payload()}, status=error.http_status)
