"""Whiteboard shapes.  Every room has one board (topic board:<room slug>); a board is
simply the room's shapes, so it has no model of its own (`Board` is an admin-only proxy)."""

from django.conf import settings
from django.db import models
from django.db.models.signals import post_delete
from django.dispatch import receiver

from chat.models import Room

KINDS = ["stroke", "line", "rect", "ellipse", "text", "note"]


class Shape(models.Model):
    """One shape on a room's board.

    `shape_id` is chosen by the client (a UUID), so a shape can be drawn before the server
    answers; it is unique per board.  `version` starts at 1 and grows by one on every
    change (redraw, erase, clear), which is how stale updates are detected.  Erased
    shapes are kept with `deleted=True` so an undo (a redraw at the erased version)
    can bring them back.
    """

    board = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="shapes")
    shape_id = models.UUIDField()
    kind = models.CharField(max_length=10, choices=[(k, k) for k in KINDS])
    data = models.JSONField()
    z = models.BigIntegerField(default=0)
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="shapes_created")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="shapes_updated")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted = models.BooleanField(default=False)

    class Meta:
        ordering = ["board", "z", "id"]
        constraints = [models.UniqueConstraint(fields=["board", "shape_id"], name="shape_board_id")]
        indexes = [models.Index(fields=["board", "deleted", "z"])]

    def __str__(self):
        return f"{self.kind} {self.shape_id} on {self.board_id}"


class Board(Room):
    """A room seen as its whiteboard (admin only: list boards, clear them)."""

    class Meta:
        proxy = True
        verbose_name = "board"


@receiver(post_delete, sender=Board)
def _board_deleted(sender, instance, **kwargs):
    """Deleting a Board deletes its room: the same topic retirement as a Room's
    (chat.models._room_deleted; signals name the proxy as sender, not Room)."""
    from chat import redaction

    redaction.room_deleted(instance)
