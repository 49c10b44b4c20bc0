"""Rooms and shapes for whiteboard tests."""

import itertools
import uuid

import pytest

_rooms = itertools.count(1)

# One valid data object per kind (the client's shapes, docs/protocol/whiteboard.md).
GOOD_DATA = {
    "stroke": {"points": [[10, 10], [20, 25.5], [30, 12]], "color": "#1d4ed8", "width": 4},
    "line": {"points": [[0, 0], [100, 50]], "color": "#111827", "width": 2},
    "rect": {"x": 5, "y": 5, "w": 100, "h": 40, "color": "#ff0000", "width": 3},
    "ellipse": {"x": 50, "y": 60, "w": 80, "h": 30, "color": "#00aa00", "width": 1, "fill": "#eeeeee"},
    "text": {"x": 200, "y": 100, "text": "Hello <board> & \"friends\"", "color": "#222222", "width": 4},
    "note": {"x": 400, "y": 300, "text": "Remember:\nship it", "color": "#f59e0b"},
}


def new_shape(kind="stroke", **fields):
    """A shape object as a client sends it (a fresh id unless given)."""
    import copy

    shape = {"id": str(uuid.uuid4()), "kind": kind, "data": copy.deepcopy(GOOD_DATA[kind])}
    shape.update(fields)
    return shape


@pytest.fixture
def make_room(make_user):
    """make_room(owner=None, is_private=False, members=(), **fields) -> Room, with the owner
    (a new user unless given) as an owner member."""
    from chat.models import Room, RoomMembership

    def make(owner=None, *, is_private=False, members=(), **fields):
        n = next(_rooms)
        owner = owner or make_user()
        fields.setdefault("slug", f"board-{n}")
        fields.setdefault("name", f"Board {n}")
        room = Room.objects.create(is_private=is_private, created_by=owner, **fields)
        RoomMembership.objects.create(room=room, user=owner, role=RoomMembership.OWNER)
        for member in members:
            RoomMembership.objects.create(room=room, user=member, role=RoomMembership.MEMBER)
        return room

    return make


@pytest.fixture
def room(make_room, user):
    """A public room owned by `user` (alice)."""
    return make_room(user)


def changed(shape, version, **data):
    """`shape` redrawn from `version` with some data fields changed."""
    return dict(shape, version=version, data={**shape["data"], **data})
