"""Every change to a board goes through here (socket handlers, REST views, admin actions),
so each one is validated, permission-checked, written and published the same way.

Writes of one board are serialised by a lock on its room row, taken first in each write
transaction, and each change publishes its event in the same transaction (the outbox row
gets the topic's next seq).  So the event order of `board:<slug>` is the order the changes
happened in, and `snapshot()` (which takes the same lock) returns shapes exactly as of
the seq it reports.
"""

from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

import realtime
from chat import permissions
from chat.models import Room
from realtime import latest_seq
from realtime.errors import Conflict, Forbidden, NotFound, Unauthenticated
from whiteboard.models import Shape
from whiteboard.validation import shape_id as check_shape_id
from whiteboard.validation import validate_shape, validate_version


def topic_of(room):
    return f"board:{room.slug}"


def _user_dict(user):
    return user.public_dict() if user is not None else None


def serialize_shape(shape):
    """The one JSON form of a shape (socket replies, events, REST, conflicts).

    created_by / updated_by are `{id, username, display_name}` (null once the account is
    deleted), so clients can label shapes without another lookup.
    """
    return {
        "id": str(shape.shape_id),
        "kind": shape.kind,
        "data": shape.data,
        "z": shape.z,
        "version": shape.version,
        "created_by": _user_dict(shape.created_by),
        "updated_by": _user_dict(shape.updated_by),
        "updated_at": shape.updated_at.isoformat(),
    }


def get_room(slug):
    """The room of board `slug`, or NotFound."""
    room = Room.objects.filter(slug=slug).first() if isinstance(slug, str) else None
    if room is None:
        raise NotFound("No such board.", field="topic")
    return room


def authorize(user, key, access):
    """The `board` topic kind's hook: the room's read/write rules.  A private room's
    board is `not_found` to non-members, as the room page is (its existence is private)."""
    room = get_room(key)
    if not permissions.can_read(user, room):
        raise NotFound("No such board.", field="topic")
    return access == "read" or permissions.can_write(user, room)


def _check_read(user, room):
    if not permissions.can_read(user, room):
        raise NotFound("No such board.", field="topic")  # as get_room: a private board is missing


def _check_write(user, room):
    if not getattr(user, "is_authenticated", False):
        raise Unauthenticated("Log in to draw.")
    _check_read(user, room)
    if room.archived:
        raise Forbidden("The room is archived (read-only).")
    if not permissions.can_write(user, room):
        raise Forbidden("You may not draw on this board.")


def _lock(room):
    """Takes the board's write lock (the room row; NO KEY so chat's inserts referencing
    the room are not blocked).  SQLite has no row locks: its transactions start
    IMMEDIATE, which serialises every writer anyway."""
    Room.objects.select_for_update(no_key=True).filter(pk=room.pk).values_list("pk").first()


def _conflict(row, message, field="shape.version"):
    return Conflict(message, field=field,
                    data={"shape": serialize_shape(row), "deleted": row.deleted})


def _is_retry(row, user, clean):
    """Whether a stale draw is the same request again (a client resending after a lost
    reply): the user's own latest change, with identical content."""
    return (clean["version"] or 0) == row.version - 1 and not row.deleted \
        and row.updated_by_id == user.pk and row.kind == clean["kind"] \
        and row.data == clean["data"] and clean["z"] in (None, row.z)


def shape_draw(*, room, user, shape):
    """Creates or replaces a shape; returns the saved Shape.  Publishes `board.shape`.

    Optimistic concurrency: `shape.version` is the version the change is based on (absent
    or 0: a new shape).  A different current version raises Conflict carrying the current
    shape (`data: {shape, deleted}`), so nobody overwrites a change they never saw.  An
    erased shape is redrawn (an undo) with the version it was erased at.
    """
    _check_write(user, room)
    clean = validate_shape(shape)
    expected = clean["version"] or 0
    with transaction.atomic():
        _lock(room)
        row = (Shape.objects.select_related("created_by", "updated_by")
               .filter(board=room, shape_id=clean["id"]).first())
        if row is None:
            if expected:
                raise NotFound(f"No shape {clean['id']} to update.", field="shape.id")
            z = clean["z"]
            if z is None:
                z = (Shape.objects.filter(board=room).aggregate(top=Max("z"))["top"] or 0) + 1
            row = Shape.objects.create(board=room, shape_id=clean["id"], kind=clean["kind"],
                                       data=clean["data"], z=z, version=1, created_by=user,
                                       updated_by=user)
        elif expected != row.version:
            if _is_retry(row, user, clean):
                return row
            raise _conflict(row, f"The shape is at version {row.version}, not {expected}.")
        else:
            row.kind, row.data, row.deleted = clean["kind"], clean["data"], False
            if clean["z"] is not None:
                row.z = clean["z"]
            row.version += 1
            row.updated_by = user
            row.save()
        realtime.publish(topic_of(room), "board.shape", {"shape": serialize_shape(row)})
    return row


def shape_erase(*, room, user, shape_id, version=None):
    """Erases a live shape; returns `{id, version}` (its new version: redrawing it at that
    version undoes the erase).  With `version`, a stale one raises Conflict.  Publishes
    `board.erased`."""
    _check_write(user, room)
    sid = check_shape_id(shape_id, "id")
    version = validate_version(version)
    with transaction.atomic():
        _lock(room)
        row = (Shape.objects.select_related("created_by", "updated_by")
               .filter(board=room, shape_id=sid, deleted=False).first())
        if row is None:
            raise NotFound(f"No shape {sid} on this board.", field="id")
        if version is not None and version != row.version:
            raise _conflict(row, f"The shape is at version {row.version}, not {version}.", field="version")
        row.deleted = True
        row.version += 1
        row.updated_by = user
        row.save()
        result = {"id": str(row.shape_id), "version": row.version}
        realtime.publish(topic_of(room), "board.erased", result)
    return result


def board_clear(*, room, user):
    """Erases every shape of the board (owner or staff; not on archived rooms); returns
    `{"erased": n}`.  Publishes `board.cleared` (also for an empty board: clients drop
    strokes in progress too)."""
    _check_write(user, room)
    if not permissions.is_owner(user, room):
        raise Forbidden("Only the room's owner may clear the board.")
    with transaction.atomic():
        _lock(room)
        erased = Shape.objects.filter(board=room, deleted=False).update(
            deleted=True, version=F("version") + 1, updated_by=user, updated_at=timezone.now())
        realtime.publish(topic_of(room), "board.cleared", {})
    return {"erased": erased}


def live_shapes(room):
    """The board's shapes that are not erased, in z order (ties: oldest first)."""
    return list(Shape.objects.filter(board=room, deleted=False)
                .select_related("created_by", "updated_by").order_by("z", "id"))


def snapshot_shapes(*, room, user):
    """The live Shape rows (for the SVG export), after the read check."""
    _check_read(user, room)
    return live_shapes(room)


def snapshot(*, room, user):
    """`{shapes, seq}`: every live shape in z order, exactly as of event `seq` of the
    board's topic, so subscribing with `since=seq` afterwards misses nothing and repeats
    nothing (the lock keeps writes of this board out between the two reads)."""
    _check_read(user, room)
    with transaction.atomic():
        _lock(room)
        seq = latest_seq(topic_of(room))
        shapes = live_shapes(room)
    return {"shapes": [serialize_shape(s) for s in shapes], "seq": seq}
