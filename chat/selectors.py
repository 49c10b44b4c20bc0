"""Every read of rooms, memberships and messages that answers a caller (socket handlers,
REST views, pages): each checks the caller may read what it returns, and answers NotFound,
never Forbidden, for a room the caller may not see.  Keyword arguments only."""

from django.db.models import CharField, Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from chat import permissions
from chat.models import Message, Room, RoomMembership
from realtime.errors import Invalid, NotFound

# Messages per history page: enough for a screenful and a bit of scroll-back in one
# round trip; the cap bounds one request's query and reply size.
HISTORY_DEFAULT_LIMIT = 50
HISTORY_MAX_LIMIT = 100


def get_room(*, slug, user):
    """The room `slug` if `user` may read it; NotFound otherwise (private rooms included)."""
    room = Room.objects.select_related("created_by").filter(slug=slug).first() \
        if isinstance(slug, str) else None
    if room is None or not permissions.can_read(user, room):
        raise NotFound("No such room.", field="room")
    return room


def get_message(*, room, message_id):
    """A message of this (already readable) room by id; NotFound for ids of other rooms,
    Invalid for ids that are not positive integers."""
    if isinstance(message_id, bool) or not isinstance(message_id, int) or message_id <= 0:
        raise Invalid("id must be a positive integer.", field="id")
    message = Message.objects.select_related("room", "author").filter(room=room, pk=message_id).first()
    if message is None:
        raise NotFound("No such message in this room.", field="id")
    return message


def get_history(*, room, user, before=None, limit=None):
    """(messages oldest first, has_more): the newest `limit` messages, or those before the
    id `before`.  Tombstones are included so positions stay stable."""
    permissions.require(user, room, login=None)
    if before is not None and (isinstance(before, bool) or not isinstance(before, int) or before <= 0):
        raise Invalid("before must be a positive message id.", field="before")
    if limit is None:
        limit = HISTORY_DEFAULT_LIMIT
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= HISTORY_MAX_LIMIT:
        raise Invalid(f"limit must be 1-{HISTORY_MAX_LIMIT}.", field="limit")
    qs = Message.objects.filter(room=room).select_related("room", "author").order_by("-id")
    if before is not None:
        qs = qs.filter(id__lt=before)
    rows = list(qs[:limit + 1])
    return list(reversed(rows[:limit])), len(rows) > limit


def _count(sub):
    """A correlated COUNT(*) subquery (0 when none): no join, so counts never multiply."""
    return Coalesce(Subquery(sub.order_by().values("room_id").annotate(n=Count("id")).values("n")[:1],
                             output_field=IntegerField()), Value(0))


def get_rooms(*, user):
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


def get_messages(*, room):
    """A (readable) room's messages for list views (REST pagination), with what the
    serialiser reads."""
    return Message.objects.filter(room=room).select_related("room", "author")
