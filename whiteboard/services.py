"""Every change to a board goes through here (socket handlers, REST views, admin actions),
so each one is validated, permission-checked, written and published the same way.

Writes of one board are serialised by a lock on its room row, taken first in each write
transaction, and each change publishes its event in the same transaction (the outbox row
gets the topic's next seq).  So the event order of `board:<slug>` is the order the changes
happened in, and `whiteboard.selectors.get_snapshot()` (which takes the same lock) returns
shapes exactly as of the seq it reports.  Functions are named <entity>_<action> and take
keyword arguments only.
"""

from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

import realtime
from chat.models import Room
from chat.permissions import is_owner
from realtime.errors import Conflict, NotFound
from whiteboard import permissions
from whiteboard.models import Shape
from whiteboard.serialize import serialize_shape, topic_of
from whiteboard.validation import shape_id as check_shape_id
from whiteboard.validation import validate_shape, validate_version


def lock_board(room):
    """Called first in every write transaction of a board, and by the snapshot read: takes
    the board's write lock (the room row; NO KEY so chat's inserts referencing
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
    permissions.require_write(user, room)
    clean = validate_shape(shape)
    expected = clean["version"] or 0
    with transaction.atomic():
        lock_board(room)
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
    permissions.require_write(user, room)
    sid = check_shape_id(shape_id, "id")
    version = validate_version(version)
    with transaction.atomic():
        lock_board(room)
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
    permissions.require_write(user, room, rule=is_owner, denied="Only the room's owner may clear the board.")
    with transaction.atomic():
        lock_board(room)
        erased = Shape.objects.filter(board=room, deleted=False).update(
            deleted=True, version=F("version") + 1, updated_by=user, updated_at=timezone.now())
        realtime.publish(topic_of(room), "board.cleared", {})
    return {"erased": erased}

