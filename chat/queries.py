"""Read-side queries for lists: rooms with the caller's unread counts, messages pages."""

from django.db.models import CharField, Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from chat import permissions
from chat.models import Message, RoomMembership


def _count(sub):
    """A correlated COUNT(*) subquery (0 when none): no join, so counts never multiply."""
    return Coalesce(Subquery(sub.order_by().values("room_id").annotate(n=Count("id")).values("n")[:1],
                             output_field=IntegerField()), Value(0))


def rooms_for(user):
    """The rooms `user` may see, each annotated with `member_count`, and the caller's
    `my_role` (None: not a member) and `unread` (messages by others, not deleted, after
    their read position; 0 for non-members)."""
    qs = permissions.visible_rooms(user).select_related("created_by")
    qs = qs.annotate(member_count=_count(RoomMembership.objects.filter(room=OuterRef("pk"))))
    if not getattr(user, "is_authenticated", False):
        return qs.annotate(my_role=Value(None, output_field=CharField()),
                           unread=Value(0, output_field=IntegerField()))
    mine = RoomMembership.objects.filter(room=OuterRef("pk"), user=user)
    qs = qs.annotate(my_read=Subquery(mine.values("last_read_message_id")[:1]),
                     my_role=Subquery(mine.values("role")[:1]))
    return qs.annotate(unread=_count(Message.objects.filter(
        room=OuterRef("pk"), deleted=False, id__gt=OuterRef("my_read")).exclude(author=user)))


def messages_of(room):
    """A room's messages for list views (REST pagination), with what the serialiser reads."""
    return Message.objects.filter(room=room).select_related("room", "author")
