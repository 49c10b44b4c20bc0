"""Prometheus metrics of this process (GET /metrics).

Counted where it is cheap: per frame received, per publish received by the hub (with the
number of local recipients), never per recipient in a loop.
"""

from django.http import HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

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
INGEST_BATCH_SECONDS = Histogram(
    "switchboard_ingest_batch_seconds", "Duration of ingest batches (exported by the process that ran them)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)


def metrics_view(request):
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)
