"""chat.services: the rules every path (socket, REST, admin) goes through."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat import permissions, selectors, services
from chat.models import Message, RoomMembership
from realtime.errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from realtime.models import Event

pytestmark = pytest.mark.django_db


def events(topic):
    return list(Event.objects.filter(topic=topic).order_by("seq").values_list("event", "data"))


def test_create_room_makes_creator_owner_and_rejects_bad_or_taken_slugs(owner):
    room = services.room_create(creator=owner, slug="team-1", name="  Team  ")
    assert room.name == "Team"
    assert RoomMembership.objects.get(room=room, user=owner).role == "owner"
    with pytest.raises(Invalid) as exc:
        services.room_create(creator=owner, slug="team-1", name="Again")
    assert exc.value.field == "slug"
    for bad in ("Team", "-x", "", "a" * 51, "sp ace", None):
        with pytest.raises(Invalid):
            services.room_create(creator=owner, slug=bad, name="x")
    with pytest.raises(Invalid) as exc:
        services.room_create(creator=owner, slug="ok", name="   ")
    assert exc.value.field == "name"


def test_post_joins_public_room_and_publishes_the_serialised_message(lobby, user):
    message = services.message_create(room=lobby, author=user, body="  hello  ", client_id="c1")
    assert message.body == "hello"
    assert RoomMembership.objects.filter(room=lobby, user=user, role="member").exists()
    [(event, data)] = events("room:lobby")
    assert event == "chat.message"
    assert data["message"] == {
        "id": message.pk, "room": "lobby",
        "author": {"id": user.pk, "username": "alice", "display_name": "Alice"},
        "body": "hello", "created_at": message.created_at.isoformat(), "edited_at": None,
        "deleted": False, "client_id": "c1"}


def test_retried_send_returns_the_first_message_without_duplicate(lobby, user, owner):
    first = services.message_create(room=lobby, author=user, body="once", client_id="same")
    again = services.message_create(room=lobby, author=user, body="once (retry)", client_id="same")
    assert again.pk == first.pk and again.body == "once"
    # The key is per author and room: another author may use the same client_id.
    other = services.message_create(room=lobby, author=owner, body="mine", client_id="same")
    assert other.pk != first.pk
    assert Message.objects.count() == 2
    assert [e for e, _ in events("room:lobby")] == ["chat.message", "chat.message"]


@pytest.mark.parametrize("body", ["", "   \n\t ", "x" * 4001, None, 42, ["hi"]])
def test_bad_bodies_are_invalid_with_the_field_named(lobby, user, body):
    with pytest.raises(Invalid) as exc:
        services.message_create(room=lobby, author=user, body=body, client_id="c")
    assert exc.value.field == "body"
    assert not Message.objects.exists()


def test_body_of_exactly_4000_characters_after_stripping_is_accepted(lobby, user):
    message = services.message_create(room=lobby, author=user, body=" " + "x" * 4000 + " ", client_id="c")
    assert len(message.body) == 4000


@pytest.mark.parametrize("client_id", ["", "   ", "x" * 65, 7])
def test_bad_client_ids_are_invalid(lobby, user, client_id):
    with pytest.raises(Invalid) as exc:
        services.message_create(room=lobby, author=user, body="hi", client_id=client_id)
    assert exc.value.field == "client_id"


def test_private_room_is_not_found_for_outsiders_and_anonymous(secret, user):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(NotFound):
        services.message_create(room=secret, author=user, body="hi", client_id="c")
    with pytest.raises(NotFound):
        selectors.get_history(room=secret, user=user)
    with pytest.raises(NotFound):
        selectors.get_room(slug="secret", user=user)
    with pytest.raises(NotFound):
        selectors.get_room(slug="secret", user=AnonymousUser())
    with pytest.raises(Unauthenticated):
        services.message_create(room=secret, author=AnonymousUser(), body="hi", client_id="c")


def test_members_and_staff_use_a_private_room(secret, owner, user, staff):
    services.member_add(room=secret, actor=owner, user=user)
    services.message_create(room=secret, author=user, body="in", client_id="c")
    assert permissions.can_read(staff, secret)
    messages, has_more = selectors.get_history(room=secret, user=staff)
    assert [m.body for m in messages] == ["in"] and not has_more


def test_archived_room_is_read_only(lobby, owner, user):
    message = services.message_create(room=lobby, author=user, body="before", client_id="c")
    services.room_archive(room=lobby, actor=owner)
    with pytest.raises(Forbidden):
        services.message_create(room=lobby, author=user, body="after", client_id="d")
    with pytest.raises(Forbidden):
        services.message_edit(message=message, editor=user, body="changed")
    with pytest.raises(Forbidden):
        services.message_delete(message=message, actor=owner)
    assert selectors.get_history(room=lobby, user=user)[0] == [message]
    assert events("room:lobby")[-1][0] == "room.updated"


def test_only_authors_edit_and_authors_or_owners_delete(lobby, owner, user, make_user):
    bob = make_user("bob")
    message = services.message_create(room=lobby, author=user, body="mine", client_id="c")
    with pytest.raises(Forbidden):
        services.message_edit(message=message, editor=bob, body="hijack")
    with pytest.raises(Forbidden):
        services.message_edit(message=message, editor=owner, body="owner edit")
    with pytest.raises(Forbidden):
        services.message_delete(message=message, actor=bob)
    services.message_edit(message=message, editor=user, body="mine, edited")
    message.refresh_from_db()
    assert message.body == "mine, edited" and message.edited_at is not None
    services.message_delete(message=message, actor=owner)
    message.refresh_from_db()
    assert message.deleted and message.body == ""
    with pytest.raises(Conflict):
        services.message_edit(message=message, editor=user, body="back")
    # Deleting twice changes nothing and publishes nothing more.
    services.message_delete(message=message, actor=user)
    assert [e for e, _ in events("room:lobby")] == ["chat.message", "chat.edited", "chat.deleted"]
    assert events("room:lobby")[-1][1]["message"]["body"] == ""


def test_message_ids_of_other_rooms_are_not_found(lobby, secret, owner, user):
    hidden = services.message_create(room=secret, author=owner, body="hidden", client_id="c")
    with pytest.raises(NotFound):
        selectors.get_message(room=lobby, message_id=hidden.pk)
    with pytest.raises(Invalid):
        selectors.get_message(room=lobby, message_id="1")


def test_history_pages_back_newest_last(lobby, user):
    ids = [services.message_create(room=lobby, author=user, body=f"m{i}", client_id=f"c{i}").pk
           for i in range(5)]
    page, more = selectors.get_history(room=lobby, user=None, limit=2)
    assert [m.pk for m in page] == ids[3:] and more
    page, more = selectors.get_history(room=lobby, user=None, before=ids[3], limit=2)
    assert [m.pk for m in page] == ids[1:3] and more
    page, more = selectors.get_history(room=lobby, user=None, before=ids[1], limit=100)
    assert [m.pk for m in page] == ids[:1] and not more
    for bad in ({"limit": 0}, {"limit": 101}, {"limit": "5"}, {"before": -1}, {"before": True}):
        with pytest.raises(Invalid):
            selectors.get_history(room=lobby, user=None, **bad)


def test_unread_counts_follow_the_read_position(lobby, secret, owner, user, make_user):
    bob = make_user("bob")
    services.message_create(room=lobby, author=user, body="hi", client_id="a")
    ids = [services.message_create(room=lobby, author=owner, body=f"m{i}", client_id=f"m{i}").pk
           for i in range(3)]
    services.message_create(room=secret, author=owner, body="not for you", client_id="s")

    def unread(who):
        return {room.slug: room.unread for room in selectors.get_rooms(user=who)}

    assert unread(user) == {"lobby": 3}  # own messages never count; secret is not listed
    assert unread(bob) == {"lobby": 0}   # not a member: no read position
    services.membership_mark_read(room=lobby, user=user, message_id=ids[1])
    assert unread(user) == {"lobby": 1}
    services.membership_mark_read(room=lobby, user=user, message_id=ids[0])  # never moves back
    assert unread(user) == {"lobby": 1}
    message = Message.objects.get(pk=ids[2])
    services.message_delete(message=message, actor=owner)
    assert unread(user) == {"lobby": 0}
    # Reading a public room never joins it: a non-member's read is a no-op.
    assert services.membership_mark_read(room=lobby, user=bob, message_id=ids[2]) is None
    assert not RoomMembership.objects.filter(room=lobby, user=bob).exists()
    counts = {room.slug: room.member_count for room in selectors.get_rooms(user=owner)}
    assert counts == {"lobby": 2, "secret": 1}


def test_room_list_has_one_row_per_room_and_a_bounded_query_count(lobby, owner, make_user):
    for i in range(5):
        services.member_add(room=lobby, actor=owner, user=make_user(f"m{i}"))
    with CaptureQueriesContext(connection) as queries:
        rooms = list(selectors.get_rooms(user=owner))
    assert [r.slug for r in rooms] == ["lobby"] and len(queries) == 1


def test_members_are_managed_by_owners_and_staff(secret, owner, user, staff, make_user):
    bob = make_user("bob")
    services.member_add(room=secret, actor=owner, user=user)
    with pytest.raises(Forbidden):
        services.member_add(room=secret, actor=user, user=bob)
    with pytest.raises(NotFound):
        services.member_add(room=secret, actor=bob, user=bob)
    with pytest.raises(Invalid):
        services.member_add(room=secret, actor=owner, user=bob, role="king")
    services.member_add(room=secret, actor=staff, user=bob)
    with pytest.raises(Forbidden):
        services.member_remove(room=secret, actor=user, user=bob)
    services.member_remove(room=secret, actor=user, user=user)  # leaving is allowed
    with pytest.raises(Invalid):
        services.member_remove(room=secret, actor=owner, user=owner)  # the last owner stays
    services.member_remove(room=secret, actor=owner, user=bob)
    assert list(secret.memberships.values_list("user__username", flat=True)) == ["olga"]
    names = [e for e, _ in events("room:secret")]
    assert names == ["member.added", "member.added", "member.removed", "member.removed"]


def test_room_update_is_for_owners_and_validates(lobby, owner, user):
    with pytest.raises(Forbidden):
        services.room_update(room=lobby, actor=user, name="Mine")
    with pytest.raises(Invalid) as exc:
        services.room_update(room=lobby, actor=owner, description="x" * 2001)
    assert exc.value.field == "description"
    services.room_update(room=lobby, actor=owner, name="Main hall")
    services.room_update(room=lobby, actor=owner, name="Main hall")  # no change, no event
    [(event, data)] = events("room:lobby")
    assert event == "room.updated" and data["room"]["name"] == "Main hall"


def test_seed_demo_creates_the_lobby_once(owner):
    from django.apps import apps

    config = apps.get_app_config("chat")
    config.seed_demo(owner)
    config.seed_demo(owner)
    room = selectors.get_room(slug="lobby", user=owner)
    assert room.name == "Lobby" and not room.is_private
    assert permissions.is_owner(owner, room)
