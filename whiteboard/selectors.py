"""Reads of boards (socket handlers, REST views): keyword arguments only."""

from django.db import transaction

from chat.models import Room
from realtime import latest_seq
from whiteboard import permissions
from whiteboard.models import Shape
from whiteboard.serialize import serialize_shape, topic_of
from whiteboard.services import lock_board


def get_room_unchecked(*, slug):
    """The room of board `slug`, or NotFound; no permission check, on purpose: it is only
    handed to a selector or service below, which checks the caller first (sign-in before
    visibility for writes, as chat's services do)."""
    room = Room.objects.filter(slug=slug).first() if isinstance(slug, str) else None
    if room is None:
        permissions.raise_missing()
    return room


def get_live_shapes(*, room):
    """The board's shapes that are not erased, in z order (ties: oldest first)."""
    return list(Shape.objects.filter(board=room, deleted=False)
                .select_related("created_by", "updated_by").order_by("z", "id"))


def get_shapes(*, room, user):
    """The live Shape rows (for the SVG export), after the read check."""
    permissions.require_read(user, room)
    return get_live_shapes(room=room)


def get_snapshot(*, room, user):
    """`{shapes, seq}`: every live shape in z order, exactly as of event `seq` of the
    board's topic, so subscribing with `since=seq` afterwards misses nothing and repeats
    nothing (the board's write lock keeps writes of this board out between the two reads)."""
    permissions.require_read(user, room)
    with transaction.atomic():
        lock_board(room)
        seq = latest_seq(topic_of(room))
        shapes = get_live_shapes(room=room)
    return {"shapes": [serialize_shape(s) for s in shapes], "seq": seq}
