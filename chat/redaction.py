"""Deleted and edited chat data stays so: the outbox's stored events of a changed message
are rewritten, a deleted room's topics retired.  Called by chat.services and the
post_delete signal of Room (chat.models), always inside the changing transaction."""

from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from chat.serialize import serialize_message
from realtime import find_events, reauthorize, retire_topics, rewrite_events


def rewrite_stored_events(message):
    """Called in the transaction of an edit or delete: the room's stored `chat.message` and
    `chat.edited` events of this message (the outbox, which resume and gap fills replay)
    now carry its current state, so no replay returns the text it had before (a deleted
    message: its tombstone).  They keep their names and seqs: a replay stays gap-free and
    in order, and every client already applies these events as "this message is now ..."
    (docs/protocol/chat.md)."""
    topic = message.room.topic
    rows = find_events(topic, ("chat.message", "chat.edited"), [message.pk], path=("message", "id"))
    current = {"message": serialize_message(message)}
    rewrite_events(topic, {seq: current for seq, _, _ in rows})


def author_deleted(user):
    """Called by the pre_delete signal of the user model, in the deleting transaction: each
    of the user's messages (deleted with the user by cascade) has its stored events
    rewritten to its tombstone, and a `chat.deleted` is published for it, so open clients
    drop it and no replay returns its text.  One outbox search per room, not per message."""
    from chat.models import Message
    from realtime import publish_many

    by_room = defaultdict(list)
    for message in Message.objects.filter(author=user, deleted=False).select_related("room", "author"):
        message.deleted, message.body = True, ""
        by_room[message.room.topic].append(message)
    if not by_room:
        return
    with transaction.atomic():
        events = []
        for topic, messages in by_room.items():
            tombstones = {m.pk: {"message": serialize_message(m)} for m in messages}
            rows = find_events(topic, ("chat.message", "chat.edited"), list(tombstones),
                               path=("message", "id"))
            rewrite_events(topic, {seq: tombstones[data["message"]["id"]] for seq, _, data in rows})
            events += [(topic, "chat.deleted", tombstone) for tombstone in tombstones.values()]
        publish_many(events)


def room_deleted(room):
    """Called by the post_delete signal of a Room (chat.models), in the deleting
    transaction, however the room was deleted (room_delete, the admin's bulk delete, a
    shell): its chat and board topics lose their stored events and start a fresh seq
    epoch (realtime.retire_topics), so a new room of the same slug replays nothing of
    this one; after commit every subscriber is checked again and revoked."""
    topics = [room.topic, f"board:{room.slug}"]
    retire_topics(topics, timezone.now())
    transaction.on_commit(lambda: [reauthorize(topic) for topic in topics])
