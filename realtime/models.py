"""The outbox (TopicCounter, Event) and the Connection log.

realtime never imports an app: Connection.user points at settings.AUTH_USER_MODEL.
"""

import uuid

from django.conf import settings
from django.db import models


class TopicCounter(models.Model):
    """The last seq given out per topic.  Its row is locked by the upsert in publish() for
    the rest of the transaction, so seqs are gap-free and monotonic whichever process writes."""

    topic = models.CharField(max_length=140, primary_key=True)
    seq = models.BigIntegerField(default=0)

    def __str__(self):
        return f"{self.topic} @ {self.seq}"


class Event(models.Model):
    """A durable published event: history and resume read from here, so they survive a
    Redis restart and a server restart.  Pruned to the recovery window by a periodic task."""

    topic = models.CharField(max_length=140)
    seq = models.BigIntegerField()
    event = models.CharField(max_length=64)
    data = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["topic", "seq"], name="event_topic_seq")]
        ordering = ["topic", "seq"]
        permissions = [("publish_event", "Can publish events through POST /api/publish/")]

    def __str__(self):
        return f"{self.topic}#{self.seq} {self.event}"


class Connection(models.Model):
    """One WebSocket connection, from handshake to close (admin and /api/connections/)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="realtime_connections")
    opened_at = models.DateTimeField(auto_now_add=True, db_index=True)
    closed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    close_code = models.IntegerField(null=True, blank=True)
    client_address = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    server_instance = models.CharField(max_length=64, db_index=True)

    class Meta:
        ordering = ["-opened_at"]

    def __str__(self):
        return f"{self.id} ({self.user or 'anonymous'})"

    @property
    def is_open(self):
        return self.closed_at is None
from realtime.webhooks.models import Attempt, Delivery, WebhookEndpoint, WebhookEvent  # noqa: E402,F401  (webhooks)
