"""The services: create-or-replace with optimistic concurrency, erase/undo, clear, snapshot."""

import pytest

from realtime.errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from realtime.models import Event
from tests.whiteboard.conftest import changed, new_shape
from whiteboard import selectors, services
from whiteboard.models import Shape
from whiteboard.serialize import serialize_shape

pytestmark = pytest.mark.django_db


def events(room):
    return list(Event.objects.filter(topic=f"board:{room.slug}").order_by("seq")
                .values_list("seq", "event", "data"))


def test_draw_creates_version_1_on_top_and_publishes_the_serialised_shape(room, user):
    first = services.shape_draw(room=room, user=user, shape=new_shape("rect"))
    second = services.shape_draw(room=room, user=user, shape=new_shape("stroke"))
    assert (first.version, second.version) == (1, 1)
    assert second.z > first.z
    body = serialize_shape(second)
    assert set(body) == {"id", "kind", "data", "z", "version", "created_by", "updated_by", "updated_at"}
    assert body["created_by"] == user.public_dict() == body["updated_by"]
    assert events(room) == [(1, "board.shape", {"shape": serialize_shape(first)}),
                            (2, "board.shape", {"shape": body})]


def test_update_with_current_version_replaces_and_bumps_version(room, user, make_user):
    bob = make_user()
    shape = new_shape("rect", z=5)
    services.shape_draw(room=room, user=user, shape=shape)
    moved = dict(shape, version=1, data={**shape["data"], "x": 99}, kind="ellipse")
    del moved["z"]
    row = services.shape_draw(room=room, user=bob, shape=moved)
    assert (row.version, row.kind, row.data["x"], row.z) == (2, "ellipse", 99, 5)
    assert row.created_by == user and row.updated_by == bob


def test_stale_update_is_a_conflict_carrying_the_current_shape(room, user, make_user):
    bob = make_user()
    shape = new_shape("line")
    services.shape_draw(room=room, user=user, shape=shape)
    services.shape_draw(room=room, user=bob, shape=changed(shape, 1, width=9))
    with pytest.raises(Conflict) as info:
        services.shape_draw(room=room, user=user, shape=changed(shape, 1, width=1))
    assert info.value.code == "conflict" and info.value.field == "shape.version"
    current = info.value.data["shape"]
    assert (current["version"], current["data"]["width"], info.value.data["deleted"]) == (2, 9, False)
    assert Shape.objects.get(shape_id=shape["id"]).data["width"] == 9
    assert len(events(room)) == 2


def test_creating_an_existing_id_without_its_version_is_a_conflict(room, user, make_user):
    shape = new_shape("stroke")
    services.shape_draw(room=room, user=user, shape=shape)
    other = dict(shape, data={**shape["data"], "color": "#000000"})
    with pytest.raises(Conflict) as info:
        services.shape_draw(room=room, user=make_user(), shape=other)
    assert info.value.data["shape"]["version"] == 1


def test_a_resent_draw_is_answered_with_the_shape_without_a_second_event(room, user):
    shape = new_shape("note")
    first = services.shape_draw(room=room, user=user, shape=shape)
    again = services.shape_draw(room=room, user=user, shape=shape)  # reply lost, client retried
    assert again.pk == first.pk and again.version == 1
    assert len(events(room)) == 1


def test_updating_an_unknown_id_is_not_found(room, user):
    with pytest.raises(NotFound) as info:
        services.shape_draw(room=room, user=user, shape=new_shape(version=3))
    assert info.value.field == "shape.id"


def test_erase_then_redraw_at_the_erased_version_is_an_undo(room, user):
    shape = new_shape("text")
    services.shape_draw(room=room, user=user, shape=shape)
    erased = services.shape_erase(room=room, user=user, shape_id=shape["id"])
    assert erased == {"id": shape["id"], "version": 2}
    assert selectors.get_snapshot(room=room, user=user)["shapes"] == []
    with pytest.raises(NotFound):
        services.shape_erase(room=room, user=user, shape_id=shape["id"])
    with pytest.raises(Conflict) as info:  # a redraw that never saw the erase
        services.shape_draw(room=room, user=user, shape=changed(shape, 1, x=1))
    assert info.value.data["deleted"] is True
    restored = services.shape_draw(room=room, user=user, shape=dict(shape, version=2))
    assert restored.version == 3 and not restored.deleted
    assert [e for _, e, _ in events(room)] == ["board.shape", "board.erased", "board.shape"]


def test_erase_with_a_stale_version_is_a_conflict(room, user):
    shape = new_shape("rect")
    services.shape_draw(room=room, user=user, shape=shape)
    services.shape_draw(room=room, user=user, shape=changed(shape, 1, w=7))
    with pytest.raises(Conflict) as info:
        services.shape_erase(room=room, user=user, shape_id=shape["id"], version=1)
    assert info.value.field == "version" and info.value.data["shape"]["data"]["w"] == 7
    assert services.shape_erase(room=room, user=user, shape_id=shape["id"], version="2")["version"] == 3


def test_erase_checks_its_arguments(room, user):
    with pytest.raises(Invalid) as info:
        services.shape_erase(room=room, user=user, shape_id="nope")
    assert info.value.field == "id"
    with pytest.raises(Invalid) as info:
        services.shape_erase(room=room, user=user, shape_id=new_shape()["id"], version="x")
    assert info.value.field == "version"


def test_clear_is_for_owners_and_staff_and_erases_everything(room, user, make_user, staff):
    member = make_user()
    for kind in ("stroke", "rect", "note"):
        services.shape_draw(room=room, user=member, shape=new_shape(kind))
    with pytest.raises(Forbidden):
        services.board_clear(room=room, user=member)
    assert services.board_clear(room=room, user=user) == {"erased": 3}
    assert selectors.get_snapshot(room=room, user=member)["shapes"] == []
    assert services.board_clear(room=room, user=staff) == {"erased": 0}
    assert [e for _, e, _ in events(room)][-2:] == ["board.cleared", "board.cleared"]


def test_snapshot_is_in_z_order_and_reports_the_topic_seq(room, user):
    top = services.shape_draw(room=room, user=user, shape=new_shape("rect", z=10))
    bottom = services.shape_draw(room=room, user=user, shape=new_shape("ellipse", z=-3))
    middle = services.shape_draw(room=room, user=user, shape=new_shape("stroke"))  # max z + 1 = 11
    gone = services.shape_draw(room=room, user=user, shape=new_shape("line"))
    services.shape_erase(room=room, user=user, shape_id=str(gone.shape_id))
    snap = selectors.get_snapshot(room=room, user=user)
    assert [s["id"] for s in snap["shapes"]] == [str(r.shape_id) for r in (bottom, top, middle)]
    assert snap["seq"] == 5 == events(room)[-1][0]


def test_permissions_private_anonymous_and_archived(make_room, make_user, user):
    from django.contrib.auth.models import AnonymousUser

    outsider = make_user()
    private = make_room(user, is_private=True)
    with pytest.raises(NotFound):
        selectors.get_snapshot(room=private, user=outsider)
    with pytest.raises(NotFound):
        services.shape_draw(room=private, user=outsider, shape=new_shape())
    public = make_room(user)
    assert selectors.get_snapshot(room=public, user=AnonymousUser())["shapes"] == []
    with pytest.raises(Unauthenticated):
        services.shape_draw(room=public, user=AnonymousUser(), shape=new_shape())
    archived = make_room(user, archived=True)
    with pytest.raises(Forbidden):
        services.shape_draw(room=archived, user=user, shape=new_shape())
    assert Shape.objects.count() == 0


def test_seed_demo_draws_on_the_lobby_once(make_room, user):
    from django.apps import apps

    config = apps.get_app_config("whiteboard")
    config.seed_demo(user)  # no lobby yet: nothing
    lobby = make_room(user, slug="lobby")
    config.seed_demo(user)
    shapes = selectors.get_snapshot(room=lobby, user=user)["shapes"]
    services.shape_erase(room=lobby, user=user, shape_id=shapes[0]["id"])
    config.seed_demo(user)
    assert len(selectors.get_snapshot(room=lobby, user=user)["shapes"]) == len(shapes) - 1 == 3
