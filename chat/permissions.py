"""Who may do what in a room.  The one place these rules live: services, REST views, the
socket topic hooks (room:<slug>, and the whiteboard's board:<slug>) all ask here.

Public room: anyone may read (anonymous too); any signed-in user may post (joining on
first post).  Private room: members only; staff see everything.
Archived rooms are read-only.  Owners (and staff) manage members and delete any message;
authors edit and delete their own; staff may also edit any (moderation, in the admin).
A private room is invisible to those who may not read it: callers answer `not_found`,
never `forbidden`, so its existence is not revealed.
"""

from django.db.models import Q

from accounts.permissions import signed_in as _signed_in
from chat.models import Room, RoomMembership
from realtime.errors import Forbidden, NotFound, Unauthenticated

ARCHIVED = "The room is archived (read-only)."
LOGIN = "Log in to do that."


def require_login(user):
    """Called first by every chat service that needs an account: Unauthenticated otherwise."""
    if not getattr(user, "is_authenticated", False):
        raise Unauthenticated(LOGIN)


def require(user, room, *, login=LOGIN, missing="No such room.", field="room",
            write=None, rule=None, denied=None, forbidden_field="room"):
    """The permission preamble of every chat and board service, called before it validates
    or writes anything; raises the first answer that applies, in this order:
    1. `login` (a message; None: anonymous callers go on): not signed in -> Unauthenticated;
    2. the room not readable -> NotFound(`missing`, field=`field`): a private room is
       missing to outsiders, never forbidden, so its existence is not revealed;
    3. `write` (a message): archived -> Forbidden(ARCHIVED), else not writable -> Forbidden(write);
    4. `rule(user, room)` false -> Forbidden(`denied`)."""
    if login is not None and not getattr(user, "is_authenticated", False):
        raise Unauthenticated(login)
    if not can_read(user, room):
        raise NotFound(missing, field=field)
    if write is not None:
        if room.archived:
            raise Forbidden(ARCHIVED, field=forbidden_field)
        if not can_write(user, room):
            raise Forbidden(write, field=forbidden_field)
    if rule is not None and not rule(user, room):
        raise Forbidden(denied, field=forbidden_field)


def authorize_topic(user, key, access):
    """The `room` topic kind's hook (registered in chat.realtime), called by the realtime
    layer on subscribe and on each action: read = can_read, write = can_write.  A room the
    user may not read (missing, or private and not theirs) is `not_found` either way."""
    room = Room.objects.filter(slug=key).first()
    if room is None or not can_read(user, room):
        raise NotFound("No such room.", field="topic")
    return can_write(user, room) if access == "write" else True


def membership(user, room):
    if not _signed_in(user):
        return None
    return RoomMembership.objects.filter(room=room, user=user).first()


def can_read(user, room):
    if not room.is_private:
        return True
    if not _signed_in(user):
        return False
    return user.is_staff or RoomMembership.objects.filter(room=room, user=user).exists()


def slug_is_public(slug):
    """Whether anyone may read room `slug` (and its board) without a user at hand: the
    room and board topics' public_read hook, cached per process by the realtime layer."""
    return Room.objects.filter(slug=slug, is_private=False).exists()


def can_write(user, room):
    """Post messages, draw: signed in, not archived, and a reader (members of private rooms)."""
    if room.archived or not _signed_in(user):
        return False
    return can_read(user, room)


def is_owner(user, room):
    """Owner of the room, or staff (who may do anything an owner may)."""
    if not _signed_in(user):
        return False
    if user.is_staff:
        return True
    return RoomMembership.objects.filter(room=room, user=user, role=RoomMembership.OWNER).exists()


def can_edit_message(user, message):
    """Authors edit their own messages while the room is writable; staff moderate any."""
    if not _signed_in(user):
        return False
    if user.is_staff:
        return True
    return message.author_id == user.pk and can_write(user, message.room)


def can_delete_message(user, message):
    """Authors delete their own, owners any, while the room is writable; staff always
    (moderation also applies to archived rooms)."""
    if not _signed_in(user):
        return False
    if user.is_staff:
        return True
    if not can_write(user, message.room):
        return False
    return message.author_id == user.pk or is_owner(user, message.room)


def visible_rooms(user):
    """Rooms the user may see listed: public ones and their own private ones (staff: all)."""
    qs = Room.objects.all()
    if _signed_in(user):
        if user.is_staff:
            return qs
        # A subquery, not a join: a join on memberships would repeat a public room once
        # per member.
        mine = RoomMembership.objects.filter(user=user).values("room_id")
        return qs.filter(Q(is_private=False) | Q(pk__in=mine))
    return qs.filter(is_private=False)
