"""Who may do what in a room.  The one place these rules live: services, REST views, the
socket topic hooks (room:<slug>, and the whiteboard's board:<slug>) all ask here.

Public room: anyone may read (anonymous too); any signed-in user may post (joining on
first post or subscribe).  Private room: members only; staff see everything.
Archived rooms are read-only.  Owners (and staff) manage members and delete any message.
"""

from chat.models import Room, RoomMembership


def membership(user, room):
    if not getattr(user, "is_authenticated", False):
        return None
    return RoomMembership.objects.filter(room=room, user=user).first()


def can_read(user, room):
    if not room.is_private:
        return True
    if not getattr(user, "is_authenticated", False):
        return False
    return user.is_staff or RoomMembership.objects.filter(room=room, user=user).exists()


def can_write(user, room):
    """Post messages, draw: signed in, not archived, and a reader (members of private rooms)."""
    if room.archived or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return can_read(user, room)


def is_owner(user, room):
    """Owner of the room, or staff (who may do anything an owner may)."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_staff:
        return True
    return RoomMembership.objects.filter(room=room, user=user, role=RoomMembership.OWNER).exists()


def visible_rooms(user):
    """Rooms the user may see listed: public ones and their own private ones (staff: all)."""
    qs = Room.objects.all()
    if getattr(user, "is_authenticated", False):
        if user.is_staff:
            return qs
        return qs.filter(is_private=False) | qs.filter(memberships__user=user)
    return qs.filter(is_private=False)
