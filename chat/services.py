"""Every change to rooms, memberships and messages, whichever way it comes in (socket,
REST, admin, tasks).  Each function checks the caller's rights (chat.permissions),
validates, writes in one transaction and publishes to `room:<slug>` after commit.
Functions take keyword arguments only and raise realtime.errors on bad input.
"""

import re
import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone

from chat import permissions, redaction
from chat.models import SLUG_RE, Message, Room, RoomMembership
from chat.serialize import serialize_member, serialize_message, serialize_room, serialize_user
from realtime import control
from realtime.errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from realtime.publish import publish

# Longest message body: a few screens of text; longer belongs in a document, and it keeps
# one event frame far below the protocol's 64 KiB frame limit.
MAX_BODY = 4000
# Longest client_id (the model's column): a UUID is 36.
MAX_CLIENT_ID = 64
# Messages per history page: enough for a screenful and a bit of scroll-back in one
# round trip; the cap bounds one request's query and reply size.
HISTORY_DEFAULT_LIMIT = 50
HISTORY_MAX_LIMIT = 100
NAME_MAX, DESCRIPTION_MAX = 100, 2000
# What creating a room with a taken slug answers, whoever holds it (see room_create).
SLUG_UNAVAILABLE = "That slug is unavailable; choose another."


def _require_user(user):
    if not getattr(user, "is_authenticated", False):
        raise Unauthenticated("Log in to do that.")


def get_room(slug, user):
    """The room `slug` if `user` may read it; NotFound otherwise (private rooms included)."""
    room = Room.objects.select_related("created_by").filter(slug=slug).first() \
        if isinstance(slug, str) else None
    if room is None or not permissions.can_read(user, room):
        raise NotFound("No such room.", field="room")
    return room


def get_message(*, room, message_id):
    """A message of this room by id; NotFound for ids of other rooms or bad ids."""
    if isinstance(message_id, bool) or not isinstance(message_id, int) or message_id <= 0:
        raise Invalid("id must be a positive integer.", field="id")
    message = Message.objects.select_related("room", "author").filter(room=room, pk=message_id).first()
    if message is None:
        raise NotFound("No such message in this room.", field="id")
    return message


def clean_body(body):
    if not isinstance(body, str):
        raise Invalid(f"body must be 1-{MAX_BODY} characters.", field="body")
    body = body.strip()
    if not body or len(body) > MAX_BODY:
        raise Invalid(f"body must be 1-{MAX_BODY} characters.", field="body")
    return body


def _clean_client_id(client_id):
    if client_id is None:
        return f"srv-{uuid.uuid4()}"
    if not isinstance(client_id, str) or not client_id.strip() or len(client_id.strip()) > MAX_CLIENT_ID:
        raise Invalid(f"client_id must be 1-{MAX_CLIENT_ID} characters.", field="client_id")
    return client_id.strip()


def _require_write(user, room):
    _require_user(user)
    if not permissions.can_read(user, room):
        raise NotFound("No such room.", field="room")
    if room.archived:
        raise Forbidden("The room is archived (read-only).", field="room")
    if not permissions.can_write(user, room):
        raise Forbidden("You may not post in this room.", field="room")


def _join(room, user, role=RoomMembership.MEMBER):
    membership, _ = RoomMembership.objects.get_or_create(room=room, user=user, defaults={"role": role})
    return membership


# --- messages ----------------------------------------------------------------------------
def message_create(*, room, author, body, client_id=None):
    """Posts a message (joining a public room on the first post).  Idempotent per author,
    room and client_id: a retry returns the first message, unchanged and not republished."""
    body = clean_body(body)
    client_id = _clean_client_id(client_id)
    _require_write(author, room)
    existing = Message.objects.filter(room=room, author=author, client_id=client_id).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            if not room.is_private:
                _join(room, author)
            message = Message.objects.create(room=room, author=author, body=body, client_id=client_id)
            publish(room.topic, "chat.message", {"message": serialize_message(message)})
    except IntegrityError:
        # The same send raced in on another connection: the first one won.
        message = Message.objects.filter(room=room, author=author, client_id=client_id).first()
        if message is None:
            raise
    return message


def message_edit(*, message, editor, body):
    """Replaces a message's body (author, or staff moderating); publishes chat.edited."""
    _require_user(editor)
    body = clean_body(body)
    if not permissions.can_read(editor, message.room):
        raise NotFound("No such message in this room.", field="id")
    if not permissions.can_edit_message(editor, message):
        raise Forbidden("Only the author may edit this message.", field="id")
    if message.deleted:
        raise Conflict("The message was deleted.", data={"message": serialize_message(message)})
    if body == message.body:
        return message
    with transaction.atomic():
        message.body, message.edited_at = body, timezone.now()
        message.save(update_fields=["body", "edited_at"])
        redaction.rewrite_stored_events(message)
        publish(message.room.topic, "chat.edited", {"message": serialize_message(message)})
    return message


def message_delete(*, message, actor):
    """Soft-deletes a message (the body is erased; history keeps a tombstone) and
    publishes chat.deleted.  Deleting a deleted message changes nothing."""
    _require_user(actor)
    if not permissions.can_read(actor, message.room):
        raise NotFound("No such message in this room.", field="id")
    if not permissions.can_delete_message(actor, message):
        raise Forbidden("You may not delete this message.", field="id")
    if message.deleted:
        return message
    with transaction.atomic():
        message.deleted, message.body = True, ""
        message.save(update_fields=["deleted", "body"])
        redaction.rewrite_stored_events(message)
        publish(message.room.topic, "chat.deleted", {"message": serialize_message(message)})
    return message


def history(*, room, user, before=None, limit=None):
    """(messages oldest first, has_more): the newest `limit` messages, or those before the
    id `before`.  Tombstones are included so positions stay stable."""
    if not permissions.can_read(user, room):
        raise NotFound("No such room.", field="room")
    if before is not None and (isinstance(before, bool) or not isinstance(before, int) or before <= 0):
        raise Invalid("before must be a positive message id.", field="before")
    if limit is None:
        limit = HISTORY_DEFAULT_LIMIT
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= HISTORY_MAX_LIMIT:
        raise Invalid(f"limit must be 1-{HISTORY_MAX_LIMIT}.", field="limit")
    qs = Message.objects.filter(room=room).select_related("room", "author").order_by("-id")
    if before is not None:
        qs = qs.filter(id__lt=before)
    rows = list(qs[:limit + 1])
    return list(reversed(rows[:limit])), len(rows) > limit


def mark_read(*, room, user, message_id):
    """Called for `chat.read`: stores a member's read position (never moving it back) and
    returns the membership.  Reading never grants membership: for a signed-in reader who
    is not a member (a public room's viewer, staff looking into a private room) it is a
    no-op answered None, so a viewer is not left holding access once the room turns
    private.  A reader who may not see the room gets NotFound, like a missing room."""
    _require_user(user)
    if not permissions.can_read(user, room):
        raise NotFound("No such room.", field="room")
    message = get_message(room=room, message_id=message_id)
    membership = RoomMembership.objects.filter(room=room, user=user).first()
    if membership is None:
        return None
    RoomMembership.objects.filter(pk=membership.pk, last_read_message_id__lt=message.pk) \
        .update(last_read_message_id=message.pk)
    membership.refresh_from_db()
    return membership


# --- rooms and members ------------------------------------------------------------------------
def _clean_room_fields(name=None, description=None):
    out = {}
    if name is not None:
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > NAME_MAX:
            raise Invalid(f"name must be 1-{NAME_MAX} characters.", field="name")
        out["name"] = name.strip()
    if description is not None:
        if not isinstance(description, str) or len(description.strip()) > DESCRIPTION_MAX:
            raise Invalid(f"description must be at most {DESCRIPTION_MAX} characters.", field="description")
        out["description"] = description.strip()
    return out


def room_create(*, creator, slug, name, description="", is_private=False):
    """Creates a room; the creator becomes its owner.  A taken slug is `invalid` on `slug`
    with SLUG_UNAVAILABLE, identical for public and private holders."""
    _require_user(creator)
    if not isinstance(slug, str) or not re.match(SLUG_RE, slug):
        raise Invalid("slug must be 1-50 lowercase letters, digits and hyphens.", field="slug")
    fields = _clean_room_fields(name, description or "")
    try:
        with transaction.atomic():
            room = Room.objects.create(slug=slug, created_by=creator, is_private=bool(is_private), **fields)
            _join(room, creator, RoomMembership.OWNER)
    except IntegrityError:
        # The same answer whether a public or a private room holds the slug (or one that
        # the creator may read): slugs are unique, so the creation must fail, but it says
        # no more than "unavailable" and never which room holds it or whether it is private.
        raise Invalid(SLUG_UNAVAILABLE, field="slug") from None
    return room


def room_update(*, room, actor, name=None, description=None, is_private=None, archived=None):
    """Changes a room's settings (owner or staff); publishes room.updated.  Making a room
    private revokes the subscriptions of signed-in non-members who are present in it."""
    _require_user(actor)
    if not permissions.can_read(actor, room):
        raise NotFound("No such room.", field="room")
    if not permissions.is_owner(actor, room):
        raise Forbidden("Only the room's owners may change it.", field="room")
    fields = _clean_room_fields(name, description)
    if is_private is not None:
        fields["is_private"] = bool(is_private)
    if archived is not None:
        fields["archived"] = bool(archived)
    changed = [key for key, value in fields.items() if getattr(room, key) != value]
    if not changed:
        return room
    turned_private = "is_private" in changed and fields["is_private"]
    with transaction.atomic():
        for key in changed:
            setattr(room, key, fields[key])
        room.save(update_fields=changed)
        publish(room.topic, "room.updated", {"room": serialize_room(room)})
        if turned_private:
            # Every subscriber, signed in or anonymous, on every process, is checked again
            # against the new rules; those who may no longer read get subscription.revoked.
            transaction.on_commit(lambda: (control.reauthorize(room.topic),
                                           control.reauthorize(f"board:{room.slug}")))
    return room


def room_archive(*, room, actor):
    """Makes the room read-only (owner or staff)."""
    return room_update(room=room, actor=actor, archived=True)


def room_delete(*, room, actor):
    """Deletes a room for good (owner or staff; the REST DELETE only archives): its
    messages, memberships and board go with it, and so do its topics' stored events
    (chat.redaction.room_deleted, run by the post_delete signal, so every other way of
    deleting a room does the same)."""
    _require_user(actor)
    if not permissions.can_read(actor, room):
        raise NotFound("No such room.", field="room")
    if not permissions.is_owner(actor, room):
        raise Forbidden("Only the room's owners may delete it.", field="room")
    with transaction.atomic():
        room.delete()


def _kick_all(room, user_ids):
    from django.contrib.auth import get_user_model

    staff = set(get_user_model().objects.filter(pk__in=user_ids, is_staff=True).values_list("pk", flat=True))
    for user_id in user_ids:
        if user_id not in staff:
            control.kick(user_id, room.topic)
            control.kick(user_id, f"board:{room.slug}")


def member_add(*, room, actor, user, role=RoomMembership.MEMBER):
    """Adds a member, or changes an existing member's role (owner or staff)."""
    _require_user(actor)
    if not permissions.can_read(actor, room):
        raise NotFound("No such room.", field="room")
    if not permissions.is_owner(actor, room):
        raise Forbidden("Only the room's owners may add members.", field="room")
    if role not in dict(RoomMembership.ROLES):
        raise Invalid("role must be 'owner' or 'member'.", field="role")
    if user is None or not user.is_active:
        raise NotFound("No such user.", field="user")
    with transaction.atomic():
        membership, created = RoomMembership.objects.get_or_create(room=room, user=user,
                                                                   defaults={"role": role})
        if not created and membership.role == role:
            return membership
        if not created:
            _check_not_last_owner(room, membership, role)
            membership.role = role
            membership.save(update_fields=["role"])
        publish(room.topic, "member.added", {"member": serialize_member(membership)})
    return membership


def _check_not_last_owner(room, membership, new_role=None):
    if membership.role == RoomMembership.OWNER and new_role != RoomMembership.OWNER \
            and not room.memberships.filter(role=RoomMembership.OWNER).exclude(pk=membership.pk).exists():
        raise Invalid("A room keeps at least one owner.", field="user")


def member_remove(*, room, actor, user):
    """Removes a member (owner or staff; anyone may leave).  A removed member of a private
    room loses its room and board subscriptions at once (after commit)."""
    _require_user(actor)
    if not permissions.can_read(actor, room):
        raise NotFound("No such room.", field="room")
    if actor.pk != user.pk and not permissions.is_owner(actor, room):
        raise Forbidden("Only the room's owners may remove members.", field="room")
    membership = RoomMembership.objects.filter(room=room, user=user).first()
    if membership is None:
        raise NotFound("Not a member of this room.", field="user")
    with transaction.atomic():
        _check_not_last_owner(room, membership)
        membership.delete()
        publish(room.topic, "member.removed", {"user": serialize_user(user)})
        if room.is_private and not user.is_staff:
            transaction.on_commit(lambda: _kick_all(room, [user.pk]))
