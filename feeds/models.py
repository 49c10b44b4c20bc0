"""Feeds, their items, and the batches of change events that update them."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

SLUG_RE = r"^[a-z0-9][a-z0-9-]{0,49}$"

# Permission codenames (app label "feeds"), defined on Feed.
INGEST_PERMISSION = "feeds.ingest_events"
VIEW_PRIVATE_PERMISSION = "feeds.view_private_feed"


class Feed(models.Model):
    """A stream of items followed live on topic feed:<slug>."""

    slug = models.CharField(max_length=50, unique=True,
                            validators=[RegexValidator(SLUG_RE, "lowercase letters, digits and hyphens")])
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=2000)
    # Public feeds are readable anonymously; private ones by staff and holders of
    # feeds.view_private_feed.
    is_public = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]
        permissions = [
            ("ingest_events", "Can send change events (POST /api/events/, feed items)"),
            ("view_private_feed", "Can read private feeds"),
        ]

    def __str__(self):
        return self.title or self.slug

    @property
    def topic(self):
        return f"feed:{self.slug}"


class FeedItem(models.Model):
    """One item, identified by the producer's external_id within its feed.  Changes are
    ordered by (version, occurred_at): see feeds.services.apply_events."""

    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="items")
    external_id = models.CharField(max_length=200)
    kind = models.CharField(max_length=50, blank=True)
    title = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=2000, blank=True)
    data = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()
    version = models.BigIntegerField(default=0)
    # Set by the services (not auto_now: bulk_update would skip it).
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # A tombstone: kept so clients syncing with updated_after learn about the deletion.
    deleted = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["feed", "external_id"],
                                               name="feeditem_feed_external_id")]
        indexes = [
            models.Index(fields=["feed", "occurred_at", "id"], name="feeditem_feed_occurred"),
            models.Index(fields=["feed", "updated_at", "id"], name="feeditem_feed_updated"),
        ]

    def __str__(self):
        return f"{self.feed.slug}/{self.external_id} v{self.version}"


class IngestBatch(models.Model):
    """A batch of validated change events, stored here so the Celery task needs only the
    id; applied in chunks, `next_index` recording how far (in the same transaction as
    each chunk), so a redelivered task resumes where a killed worker stopped."""

    QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
    STATUSES = [(QUEUED, "Queued"), (RUNNING, "Running"), (DONE, "Done"), (FAILED, "Failed")]

    source = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="ingest_batches")
    received_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=10, choices=STATUSES, default=QUEUED, db_index=True)
    # The clean events as one JSON array in a text column: written once by the web process,
    # parsed once by the task (feeds.services).  Not jsonb: for a large batch jsonb's parsing
    # and pglz compression cost far more per POST than text with lz4 (migration 0002,
    # PostgreSQL), and nothing queries inside it.
    payload = models.TextField(default="[]")
    next_index = models.PositiveIntegerField(default=0)
    received = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    # [{"index", "field", "message"}], at most feeds.limits.MAX_REPORTED_ERRORS.
    errors = models.JSONField(default=list, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "ingest batches"

    def __str__(self):
        return f"batch {self.pk} ({self.status})"
