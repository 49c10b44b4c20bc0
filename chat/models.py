"""Rooms, memberships and messages."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.signals import post_delete, pre_delete
from django.dispatch import receiver

SLUG_RE = r"^[a-z0-9][a-z0-9-]{0,49}$"


class Room(models.Model):
    """A place to collaborate: a chat (topic room:<slug>) and a whiteboard (board:<slug>)."""

    slug = models.CharField(max_length=50, unique=True,
                            validators=[RegexValidator(SLUG_RE, "lowercase letters, digits and hyphens")])
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, max_length=2000)
    is_private = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="rooms_created")
    created_at = models.DateTimeField(auto_now_add=True)
    archived = models.BooleanField(default=False)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="RoomMembership",
                                     related_name="rooms")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def topic(self):
        return f"room:{self.slug}"


class RoomMembership(models.Model):
    OWNER = "owner"
    MEMBER = "member"
    ROLES = [(OWNER, "Owner"), (MEMBER, "Member")]

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="room_memberships")
    role = models.CharField(max_length=10, choices=ROLES, default=MEMBER)
    joined_at = models.DateTimeField(auto_now_add=True)
    # Id of the newest message this member has read (0: none); unread = newer messages.
    last_read_message_id = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["room", "user"], name="membership_room_user")]

    def __str__(self):
        return f"{self.user} in {self.room} ({self.role})"


class Message(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                               related_name="messages")
    body = models.TextField(max_length=4000)
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted = models.BooleanField(default=False)
    # Idempotency key chosen by the client: a retried send returns the first message.
    client_id = models.CharField(max_length=64)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["room", "author", "client_id"],
                                               name="message_idempotency")]
        indexes = [models.Index(fields=["room", "id"])]

    def __str__(self):
        # Not the body: the admin's log keeps this text of every changed or deleted
        # message, and a deleted message's text must not outlive it.
        return f"message {self.pk} by {self.author}"


@receiver(post_delete, sender=Room)
def _room_deleted(sender, instance, **kwargs):
    """Every deletion of a room (model delete, a queryset's or the admin's bulk delete)
    drops its topics' history: chat.redaction.room_deleted.  Proxies of Room connect the
    same way (whiteboard.models.Board): signals are sent with the proxy as sender."""
    from chat import redaction

    redaction.room_deleted(instance)


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL)
def _author_deleted(sender, instance, **kwargs):
    """Before a user is deleted (their messages go with them, by cascade): the stored
    events of their messages become tombstones and subscribers are told, so no resume
    replays the text of a deleted account's messages (chat.redaction.author_deleted)."""
    from chat import redaction

    redaction.author_deleted(instance)
