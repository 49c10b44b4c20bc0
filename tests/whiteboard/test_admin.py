"""Admin: shapes by room; erasing shapes and clearing boards go through the services."""

import pytest

from realtime.models import Event
from tests.whiteboard.conftest import new_shape
from whiteboard import services
from whiteboard.models import Shape

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, make_user):
    client.force_login(make_user("boss", is_staff=True, is_superuser=True))
    return client


def board_events(room):
    return list(Event.objects.filter(topic=f"board:{room.slug}").values_list("event", flat=True))


def test_shape_list_filters_by_room_and_kind(admin_client, make_room, user):
    rooms = [make_room(user), make_room(user)]
    for room in rooms:
        services.shape_draw(room=room, user=user, shape=new_shape("rect"))
        services.shape_draw(room=room, user=user, shape=new_shape("note"))
    response = admin_client.get(f"/admin/whiteboard/shape/?board__id__exact={rooms[0].pk}&kind=note")
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1
    shape = Shape.objects.filter(board=rooms[0]).first()
    assert admin_client.get(f"/admin/whiteboard/shape/{shape.pk}/change/").status_code == 200
    assert admin_client.get("/admin/whiteboard/board/").status_code == 200


def test_clear_action_clears_the_selected_boards_for_everyone(admin_client, make_room, user):
    cleared, kept = make_room(user), make_room(user)
    for room in (cleared, kept):
        services.shape_draw(room=room, user=user, shape=new_shape("stroke"))
    response = admin_client.post("/admin/whiteboard/board/", {
        "action": "clear_boards", "_selected_action": [cleared.pk]}, follow=True)
    assert response.status_code == 200
    assert not Shape.objects.filter(board=cleared, deleted=False).exists()
    assert Shape.objects.filter(board=kept, deleted=False).count() == 1
    assert board_events(cleared)[-1] == "board.cleared"
    assert board_events(kept) == ["board.shape"]


def test_erase_and_clear_actions_on_selected_shapes(admin_client, make_room, user):
    room = make_room(user)
    first = services.shape_draw(room=room, user=user, shape=new_shape("line"))
    second = services.shape_draw(room=room, user=user, shape=new_shape("text"))
    admin_client.post("/admin/whiteboard/shape/", {"action": "erase_shapes", "_selected_action": [first.pk]})
    first.refresh_from_db()
    assert first.deleted and first.version == 2
    assert board_events(room)[-1] == "board.erased"
    admin_client.post("/admin/whiteboard/shape/", {"action": "clear_boards", "_selected_action": [second.pk]})
    assert not Shape.objects.filter(board=room, deleted=False).exists()
    assert board_events(room)[-1] == "board.cleared"
