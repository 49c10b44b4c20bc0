"""The chat socket actions (registered in chat.realtime).  Handlers parse the frame's
data and call chat.selectors / chat.services; the consumer has already authenticated the
caller and authorized the topic (chat.permissions.authorize_topic; services check the rules
again: the authorization is cached)."""

from chat import selectors, services, writes
from chat.serialize import serialize_message
from realtime import apublish, async_redis
from realtime.errors import Invalid

# At most one typing event per user per room is forwarded in this many seconds: enough
# for a live "is typing" line, and a client that sends on every key press costs nothing.
TYPING_INTERVAL_SECONDS = 2.0


def _room(request):
    return selectors.get_room(slug=request.key, user=request.user)


def _int(data, name, required=True):
    value = data.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"{name} must be an integer.", field=name)
    return value


async def send(request):
    """chat.send {body, client_id} -> {message}.  Written by chat.writes' batcher with the
    sends other connections made meanwhile (one transaction), answered after its commit;
    `overloaded` with retry_after at once when the process has too many writes waiting."""
    message = await writes.send(room=request.key, author=request.user,
                                body=request.data.get("body"),
                                client_id=request.data.get("client_id"))
    return {"message": message}


def edit(request):
    """chat.edit {id, body} -> {message}."""
    room = _room(request)
    message = selectors.get_message(room=room, message_id=_int(request.data, "id"))
    message = services.message_edit(message=message, editor=request.user, body=request.data.get("body"))
    return {"message": serialize_message(message)}


def delete(request):
    """chat.delete {id} -> {message} (the tombstone)."""
    room = _room(request)
    message = selectors.get_message(room=room, message_id=_int(request.data, "id"))
    return {"message": serialize_message(services.message_delete(message=message, actor=request.user))}


def history(request):
    """chat.history {before?, limit?} -> {messages (newest last), has_more}."""
    messages, has_more = selectors.get_history(room=_room(request), user=request.user,
                                               before=_int(request.data, "before", required=False),
                                               limit=_int(request.data, "limit", required=False))
    return {"messages": [serialize_message(m) for m in messages], "has_more": has_more}


def read(request):
    """chat.read {message_id} -> {last_read_message_id}."""
    membership = services.membership_mark_read(room=_room(request), user=request.user,
                                               message_id=_int(request.data, "message_id"))
    return {"last_read_message_id": membership.last_read_message_id if membership else None}


async def typing(request):
    """chat.typing {} -> {forwarded}: tells the others (not this connection) that the
    user is typing.  The throttle is a Redis key per user and room, so it holds across
    a user's tabs and server processes."""
    key = f"sb:chat:typing:{request.topic}:{request.user.pk}"
    first = await async_redis().set(key, 1, px=int(TYPING_INTERVAL_SECONDS * 1000), nx=True)
    if first:
        await apublish(request.topic, "chat.typing", {"user": request.user_info}, ephemeral=True,
                       exclude_connection=request.connection_id)
    return {"forwarded": bool(first)}
