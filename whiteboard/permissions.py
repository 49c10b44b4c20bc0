"""Who may see and draw on a board: a board is its room's, so the room's rules
(chat.permissions) decide, with the board's own wording.  A private room's board is
`not_found` to non-members, as the room page is (its existence is private)."""

from chat import permissions as room_rules
from chat.models import Room
from realtime.errors import NotFound

MISSING = "No such board."


def raise_missing():
    """Called wherever a board is missing or hidden from the caller: the same answer."""
    raise NotFound(MISSING, field="topic")


def require_read(user, room):
    """Called by every board read: NotFound unless the user may read the room."""
    room_rules.require(user, room, login=None, missing=MISSING, field="topic")


def require_write(user, room, *, rule=None, denied=None):
    """Called by every board change: signed in, may read (else NotFound), the room not
    archived and writable by the user, and `rule(user, room)` when given."""
    room_rules.require(user, room, login="Log in to draw.", missing=MISSING, field="topic",
                       write="You may not draw on this board.", rule=rule, denied=denied,
                       forbidden_field=None)


def authorize_topic(user, key, access):
    """The `board` topic kind's hook (registered in whiteboard.realtime), called by the
    realtime layer on subscribe and on each action: the room's read/write rules."""
    room = Room.objects.filter(slug=key).first()
    if room is None or not room_rules.can_read(user, room):
        raise_missing()
    return access == "read" or room_rules.can_write(user, room)
