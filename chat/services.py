"""Every change to rooms, memberships and messages, whichever way it comes in (socket,
REST, admin, tasks).  Each function checks the caller's rights (chat.permissions.require),
validates, writes in one transaction and publishes to `room:<slug>` after commit.
Functions are named <entity>_<action>, take keyword arguments only and raise
realtime.errors on bad input.  Reads live in chat.selectors.
"""

import re
import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone

import realtime
from chat import inserts, permissions, redaction, selectors, writes
from chat.models import SLUG_RE, Room, RoomMembership
from chat.serialize import serialize_member, serialize_message, serialize_room, serialize_user
from realtime import kick, reauthorize
from realtime.errors import Conflict, Invalid, NotFound, ProtocolError

# Longest message body: a few screens of text; longer belongs in a document, and it keeps
# one event frame far below the protocol's 64 KiB frame limit.
MAX_BODY = 4000
# Longest client_id (the model's column): a UUID is 36.
MAX_CLIENT_ID = 64
NAME_MAX, DESCRIPTION_MAX = 100, 2000
NO_MESSAGE = "No such message in this room."
# What creating a room with a taken slug answers, whoever holds it (see room_create).
SLUG_UNAVAILABLE = "That slug is unavailable; choose another."


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


def _join(room, user, role=RoomMembership.MEMBER):
    membership, _ = RoomMembership.objects.get_or_create(room=room, user=user, defaults={"role": role})
    return membership


# --- messages ----------------------------------------------------------------------------
def message_create(*, room, author, body, client_id=None):
    """Posts a message (joining a public room on the first post).  Idempotent per author,
    room and client_id: a retry returns the first message, unchanged and not republished.
    The one service for a single send (REST, admin, tasks); counted against the process's
    write bound (chat.writes: Overloaded when over it).  The socket's chat.send batches
    through messages_create_many, the same code."""
    with writes.admitted("call"):
        result = messages_create_many([{"room": room, "author": author, "body": body,
                                         "client_id": client_id}])[0]
    if isinstance(result, BaseException):
        raise result
    return result


def messages_create_many(sends):
    """Called with the sends a batch writer gathered (chat.writes), or one from
    message_create: [{room (a Room or a slug), author, body, client_id}] -> one result per
    send, in order: its Message, or the exception it alone earns (a ProtocolError for bad
    input or rights; a database error).  Each send is checked on its own; every new message
    is written in one transaction (one insert, one outbox statement per room) and published
    on commit.  A client_id seen before (earlier, or twice in this batch) answers with the
    original message.  If the shared transaction fails, each send is retried alone, so one
    send's failure never fails the others."""
    results = [None] * len(sends)
    slugs = {s["room"] for s in sends if isinstance(s["room"], str)}
    rooms = {r.slug: r for r in Room.objects.select_related("created_by").filter(slug__in=slugs)} \
        if slugs else {}
    todo = []  # (position, key, room, author, body)
    for position, send in enumerate(sends):
        try:
            room = rooms.get(send["room"]) if isinstance(send["room"], str) else send["room"]
            if room is None:
                raise NotFound("No such room.", field="room")
            body = clean_body(send["body"])
            client_id = _clean_client_id(send.get("client_id"))
            author = send["author"]
            permissions.require(author, room, write="You may not post in this room.")
        except ProtocolError as exc:
            results[position] = exc
            continue
        todo.append((position, (room.pk, author.pk, client_id), room, author, body))
    seen = inserts.existing_messages([key for _, key, _, _, _ in todo])
    new, first = [], {}
    for position, key, room, author, body in todo:
        if key in seen:
            results[position] = seen[key]
        elif key not in first:
            first[key] = position
            new.append((position, key, room, author, body))
    if new:
        written, failed = inserts.write_each(new)
        for position, key, *_ in new:
            results[position] = written[key] if key in written else failed.get(position)
    for position, key, *_ in todo:
        if results[position] is None:  # a duplicate inside this batch
            results[position] = results[first[key]]
    return results


def message_edit(*, message, editor, body):
    """Replaces a message's body (author, or staff moderating); publishes chat.edited."""
    permissions.require_login(editor)
    body = clean_body(body)
    permissions.require(editor, message.room, login=None, missing=NO_MESSAGE, field="id",
                        rule=lambda user, _: permissions.can_edit_message(user, message),
                        denied="Only the author may edit this message.", forbidden_field="id")
    if message.deleted:
        raise Conflict("The message was deleted.", data={"message": serialize_message(message)})
    if body == message.body:
        return message
    with transaction.atomic():
        message.body, message.edited_at = body, timezone.now()
        message.save(update_fields=["body", "edited_at"])
        redaction.rewrite_stored_events(message)
        realtime.publish(message.room.topic, "chat.edited", {"message": serialize_message(message)})
    return message


def message_delete(*, message, actor):
    """Soft-deletes a message (the body is erased; history keeps a tombstone) and
    publishes chat.deleted.  Deleting a deleted message changes nothing."""
    permissions.require(actor, message.room, missing=NO_MESSAGE, field="id",
                        rule=lambda user, _: permissions.can_delete_message(user, message),
                        denied="You may not delete this message.", forbidden_field="id")
    if message.deleted:
        return message
    with transaction.atomic():
        message.deleted, message.body = True, ""
        message.save(update_fields=["deleted", "body"])
        redaction.rewrite_stored_events(message)
        realtime.publish(message.room.topic, "chat.deleted", {"message": serialize_message(message)})
    return message


def membership_mark_read(*, room, user, message_id):
    """Called for `chat.read`: stores a member's read position (never moving it back) and
    returns the membership.  Reading never grants membership: for a signed-in reader who
    is not a member (a public room's viewer, staff looking into a private room) it is a
    no-op answered None, so a viewer is not left holding access once the room turns
    private.  A reader who may not see the room gets NotFound, like a missing room."""
    permissions.require(user, room)
    message = selectors.get_message(room=room, message_id=message_id)
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
    permissions.require_login(creator)
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
    permissions.require(actor, room, rule=permissions.is_owner,
                        denied="Only the room's owners may change it.")
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
        realtime.publish(room.topic, "room.updated", {"room": serialize_room(room)})
        if turned_private:
            # Every subscriber, signed in or anonymous, on every process, is checked again
            # against the new rules; those who may no longer read get subscription.revoked.
            transaction.on_commit(lambda: (reauthorize(room.topic),
                                           reauthorize(f"board:{room.slug}")))
    return room


def room_archive(*, room, actor):
    """Makes the room read-only (owner or staff)."""
    return room_update(room=room, actor=actor, archived=True)


def room_delete(*, room, actor):
    """Deletes a room for good (owner or staff; the REST DELETE only archives): its
    messages, memberships and board go with it, and so do its topics' stored events
    (chat.redaction.room_deleted, run by the post_delete signal, so every other way of
    deleting a room does the same)."""
    permissions.require(actor, room, rule=permissions.is_owner,
                        denied="Only the room's owners may delete it.")
    with transaction.atomic():
        room.delete()


def _kick_all(room, user_ids):
    from django.contrib.auth import get_user_model

    staff = set(get_user_model().objects.filter(pk__in=user_ids, is_staff=True).values_list("pk", flat=True))
    for user_id in user_ids:
        if user_id not in staff:
            kick(user_id, room.topic)
            kick(user_id, f"board:{room.slug}")


def member_add(*, room, actor, user, role=RoomMembership.MEMBER):
    """Adds a member, or changes an existing member's role (owner or staff)."""
    permissions.require(actor, room, rule=permissions.is_owner,
                        denied="Only the room's owners may add members.")
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
        realtime.publish(room.topic, "member.added", {"member": serialize_member(membership)})
    return membership


def _check_not_last_owner(room, membership, new_role=None):
    if membership.role == RoomMembership.OWNER and new_role != RoomMembership.OWNER \
            and not room.memberships.filter(role=RoomMembership.OWNER).exclude(pk=membership.pk).exists():
        raise Invalid("A room keeps at least one owner.", field="user")


def member_remove(*, room, actor, user):
    """Removes a member (owner or staff; anyone may leave).  A removed member of a private
    room loses its room and board subscriptions at once (after commit)."""
    permissions.require(actor, room, rule=lambda a, r: a.pk == user.pk or permissions.is_owner(a, r),
                        denied="Only the room's owners may remove members.")
    membership = RoomMembership.objects.filter(room=room, user=user).first()
    if membership is None:
        raise NotFound("Not a member of this room.", field="user")
    with transaction.atomic():
        _check_not_last_owner(room, membership)
        membership.delete()
        realtime.publish(room.topic, "member.removed", {"user": serialize_user(user)})
        if room.is_private and not user.is_staff:
            transaction.on_commit(lambda: _kick_all(room, [user.pk]))
