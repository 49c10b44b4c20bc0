"""Webhook endpoints, the events they are sent and every delivery attempt.

Ordering: a Delivery row per (event, endpoint), queued per (endpoint, topic) in `id`
order.  Deliveries of published events are written in publish()'s own transaction, which
holds the topic's counter lock, so their ids follow the topic's commit order; a worker
sends the oldest pending one of a pair and only then the next (realtime.webhooks.delivery).
"""

import uuid

from django.conf import settings
from django.db import models

# Every event an endpoint may ask for (docs/webhooks.md).  Socket events keep their name;
# the others are webhook-only facts.
EVENTS = {
    "room.occupied": "The first member arrived in a room (debounced).",
    "room.vacated": "The last member left a room (debounced).",
    "presence.joined": "Users came into a room or board (the socket's presence.join).",
    "presence.left": "Users left a room or board (the socket's presence.leave).",
    "chat.message": "A new chat message.",
    "chat.edited": "A chat message was edited.",
    "chat.deleted": "A chat message was deleted (its tombstone).",
    "feed.batch.done": "An ingest batch finished.",
    "feed.batch.failed": "An ingest batch failed.",
    "board.cleared": "A whiteboard was cleared.",
}
# Events that are socket events too, so publish() hands them over (realtime.webhooks.hook).
PUBLISHED_EVENTS = frozenset({"chat.message", "chat.edited", "chat.deleted", "board.cleared"})


class WebhookEndpoint(models.Model):
    """A receiver registered by staff (admin, /api/webhooks/).  `secret` is kept as it is
    (an HMAC needs it) and shown only when created or rotated."""

    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, help_text="Event types sent to this endpoint.")
    topic_filter = models.CharField(
        max_length=140, blank=True,
        help_text="A glob on the topic, e.g. room:* or room:lobby; empty: every topic.")
    secret = models.CharField(max_length=100, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="webhook_endpoints")
    enabled = models.BooleanField(default=True)
    # Set by the first failure after a success; cleared by a success.
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        permissions = [("manage_webhooks", "Can manage webhook endpoints (admin, /api/webhooks/)")]

    def __str__(self):
        return self.url


class WebhookEvent(models.Model):
    """One fact to announce, shared by the endpoints that want it; its id is the payload's
    `id`, the receivers' de-duplication key (a resend or a redelivery repeats it)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=64)
    topic = models.CharField(max_length=140, blank=True)  # "" for events without a topic
    data = models.JSONField()
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.type} {self.id}"


class Delivery(models.Model):
    """One event to one endpoint; queued per (endpoint, topic) in id order."""

    PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
    STATUSES = [(PENDING, "Pending"), (DELIVERED, "Delivered"), (FAILED, "Failed (gave up)")]

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    topic = models.CharField(max_length=140, blank=True)
    status = models.CharField(max_length=10, choices=STATUSES, default=PENDING)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    # The worker sending it holds it until then; its token makes a late writer harmless.
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["endpoint", "topic", "status", "id"], name="wh_delivery_queue"),
            models.Index(fields=["status", "next_attempt_at"], name="wh_delivery_due"),
        ]

    def __str__(self):
        return f"{self.event.type} -> {self.endpoint.url} ({self.status})"


class Attempt(models.Model):
    """One HTTP request of a delivery: what the receiver answered, or why none came."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    error = models.CharField(max_length=300, blank=True)
    response_excerpt = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"attempt {self.pk} ({self.status_code or self.error})"
