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


def write_each(new):
    """write_messages(new), or, if the shared transaction fails, each send alone, so one
    send's failure never fails the others: ({key: Message}, {position: exception})."""
    try:
        return write_messages(new), {}
    except Exception as exc:
        if len(new) == 1:
            return {}, {new[0][0]: exc}
    written, failed = {}, {}
    for item in new:  # alone, each earns its own answer
        try:
            written.update(write_messages([item]))
        except Exception as exc:
            failed[item[0]] = exc
    return written, failed


def write_messages(new):
    """One transaction: joins public rooms, inserts the new messages (ON CONFLICT DO
    NOTHING: one that raced in from elsewhere is read back, not republished) and publishes
    them in id order.  {key: Message}."""
    now = timezone.now()
    with transaction.atomic():
        _join_public([(room, author) for _, _, room, author, _ in new if not room.is_private], now)
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


def _join_public(pairs, now):
    """Memberships for first posters in public rooms: one statement inserting the missing
    ones (the NOT EXISTS keeps a poster who is a member already from using up an id)."""
    pairs = sorted({(room.pk, author.pk) for room, author in pairs})
    if not pairs:
        return
    meta, quote = RoomMembership._meta, connection.ops.quote_name
    column = {name: quote(meta.get_field(name).column)
              for name in ("room", "user", "role", "joined_at", "last_read_message_id")}
    joined = meta.get_field("joined_at").get_db_prep_save(now, connection)
    table = quote(meta.db_table)
    sql = (f"WITH v(r, u) AS (VALUES {', '.join(['(%s, %s)'] * len(pairs))}) "
           f"INSERT INTO {table} ({column['room']}, {column['user']}, {column['role']}, "
           f"{column['joined_at']}, {column['last_read_message_id']}) "
           f"SELECT v.r, v.u, %s, %s, 0 FROM v WHERE NOT EXISTS (SELECT 1 FROM {table} m "
           f"WHERE m.{column['room']} = v.r AND m.{column['user']} = v.u) "
           f"ON CONFLICT ({column['room']}, {column['user']}) DO NOTHING")
    with connection.cursor() as cursor:
        cursor.execute(sql, [x for pair in pairs for x in pair] + [RoomMembership.MEMBER, joined])


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
