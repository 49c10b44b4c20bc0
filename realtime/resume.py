"""A subscribe's read of where a topic stands: its latest seq, shared by the subscribers
arriving while it is read, and the paged replay of what a resuming client missed
(called by Hub.subscribe)."""

import asyncio

from django.conf import settings

from realtime import store


async def resume_state(state, since):
    """(latest seq, first replay page or None): store.resume_state in a worker thread.
    Subscribers without `since` arriving while one read of the topic's latest seq is in
    flight share it (a reconnect storm onto one topic reads once: their live events are
    buffered from before that read ended)."""
    topic = state.topic
    if since is None and state.reading is not None:
        shared = await asyncio.shield(state.reading)
        # That read may have ended before this subscriber joined the topic's local set:
        # an event delivered meanwhile is in state.last, and is "before" this subscribe.
        return max(shared, state.last or 0), None
    future = None
    if since is None:
        future = state.reading = asyncio.get_running_loop().create_future()
    try:
        latest, replay = await store.run_sync(store.resume_state, topic, since)
    except BaseException as exc:
        if future is not None:
            future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
            future.exception()  # retrieved: no "never retrieved" warning without waiters
        raise
    finally:
        if future is not None and state.reading is future:
            state.reading = None
    if future is not None:
        future.set_result(latest)
    return latest, replay


async def replay(conn, sub, since, latest, page):
    """Sends the events after `since` up to `latest`, starting with `page`, reading each
    next page (store.events_page) only once the socket has taken the previous one but
    REALTIME_RESUME_LOW_WATER_BYTES: one resume holds about a page in memory, however
    many events it replays.  True when all were sent; False when the live buffer
    overflowed or the outbox lost some meanwhile (pruned).  Raises ClientGone (through
    conn.wait_written) when the client stops reading: it was closed 4503."""
    topic, sent = sub.topic, since
    while True:
        for seq, text in page:
            if seq != sent + 1:
                return False
            conn.send_frame(text)
            sent = seq
        if sent >= latest:
            return True
        await conn.wait_written(settings.REALTIME_RESUME_LOW_WATER_BYTES)
        if sub.overflowed:
            return False
        page = await store.run_sync(store.events_page, topic, sent, latest)
        if not page:
            return False
