"""The rows of a batch of new messages (chat.services.messages_create_many, the one path
of every send): existing ones found by their idempotency key, new ones inserted in one
statement and published in id order, in one transaction."""

from django.db import connection, transaction
from django.utils import timezone

from chat.models import Message, RoomMembership
from chat.serialize import serialize_message
from realtime import publish_many


def existing_messages(keys):
    """{(room id, author id, client_id): Message} of those keys already stored."""
    if not keys:
        return {}
    rows = Message.objects.select_related("room", "author").filter(
        room_id__in={k[0] for k in keys}, author_id__in={k[1] for k in keys},
        client_id__in={k[2] for k in keys})
    wanted = set(keys)
    return {key: m for m in rows if (key := (m.room_id, m.author_id, m.client_id)) in wanted}


def write_messages(new):
    """One transaction: joins public rooms, inserts the new messages (ON CONFLICT DO
    NOTHING: one that raced in from elsewhere is read back, not republished) and publishes
    them in id order.  {key: Message}."""
    now = timezone.now()
    with transaction.atomic():
        _join_public([(room, author) for _, _, room, author, _ in new if not room.is_private])
        ids = _insert_messages(new, now)
        out, fresh = {}, []
        for _, key, room, author, body in new:
            if key in ids:
                message = Message(pk=ids[key], room=room, author=author, body=body, client_id=key[2],
                                  created_at=now, edited_at=None, deleted=False)
                message._state.adding, message._state.db = False, connection.alias
                out[key] = message
                fresh.append(message)
        out.update(existing_messages([key for _, key, *_ in new if key not in ids]))
        fresh.sort(key=lambda m: m.pk)
        if fresh:
            publish_many([(m.room.topic, "chat.message", {"message": serialize_message(m)})
                          for m in fresh])
    return out


def _join_public(pairs):
    """Memberships for first posters in public rooms (one read, one insert of the missing)."""
    pairs = {(room.pk, author.pk) for room, author in pairs}
    if not pairs:
        return
    have = set(RoomMembership.objects.filter(room_id__in={p[0] for p in pairs},
                                             user_id__in={p[1] for p in pairs})
               .values_list("room_id", "user_id"))
    missing = sorted(pairs - have)
    if missing:
        RoomMembership.objects.bulk_create(
            [RoomMembership(room_id=r, user_id=u, role=RoomMembership.MEMBER) for r, u in missing],
            ignore_conflicts=True)


def _insert_messages(new, now):
    """INSERT ... ON CONFLICT (room, author, client_id) DO NOTHING RETURNING: {key: id} of
    the rows written (PostgreSQL and SQLite >= 3.35 alike)."""
    meta, quote = Message._meta, connection.ops.quote_name
    column = {name: quote(meta.get_field(name).column)
              for name in ("id", "room", "author", "body", "created_at", "edited_at", "deleted", "client_id")}
    created = meta.get_field("created_at").get_db_prep_save(now, connection)
    params = []
    for _, key, _, _, body in new:
        params += [key[0], key[1], body, created, False, key[2]]
    sql = (f"INSERT INTO {quote(meta.db_table)} ({column['room']}, {column['author']}, {column['body']}, "
           f"{column['created_at']}, {column['edited_at']}, {column['deleted']}, {column['client_id']}) "
           f"VALUES {', '.join(['(%s, %s, %s, %s, NULL, %s, %s)'] * len(new))} "
           f"ON CONFLICT ({column['room']}, {column['author']}, {column['client_id']}) DO NOTHING "
           f"RETURNING {column['id']}, {column['room']}, {column['author']}, {column['client_id']}")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {(room_id, author_id, client_id): pk
                for pk, room_id, author_id, client_id in cursor.fetchall()}
