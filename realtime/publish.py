"""`publish()`: the one way an event leaves the server.

Durable events are written to the outbox (realtime.Event) in the caller's transaction,
with the topic's next seq, and sent after commit; ephemeral ones (typing, cursors) are sent
at once with `seq: null`.  The frame is serialised once here; every process's hub forwards
the same bytes to its subscribers.  This module is the only caller of `group_send`.

Usable from anywhere: sync code (views, admin, Celery tasks, handlers in worker threads)
and async code (`apublish`).  Sync sends go through one background event loop per process
(`_Sender`), so a Celery prefork child can publish thousands of times in a row without
channels_redis's "Event loop is closed" trap or a new loop per call.
"""

import asyncio
import atexit
import contextlib
import logging
import os
import threading
import time
from collections import defaultdict

import orjson
from channels.layers import get_channel_layer
from django.db import connection, transaction
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from realtime import outbox
from realtime.registry import check_event, parse_topic, topic_group
from realtime.webhooks import hook as webhook_hook

logger = logging.getLogger("realtime.publish")

# Most events sent to the channel layer in one message: a large batch (feed ingest) is
# split so no single Redis message grows unbounded, yet 5,000 events are ~10 messages.
SEND_CHUNK = 500
# ... and about this many bytes of frames per message: the sender joins what queued up
# while it was busy (a publishing loop, an ingest's chunks), and ten 256 KiB `feed.items`
# frames in one Redis message would make every hub buffer and decode megabytes at once.
SEND_CHUNK_BYTES = 1024 * 1024
# Seconds flush() waits for queued sends (Celery tasks flush before they are acked).
FLUSH_TIMEOUT = 10.0
# A send is tried this often, SEND_RETRY_DELAY s apart (growing): enough to ride out a
# stale connection after a Redis restart, short enough not to stall the sender.
SEND_ATTEMPTS = 3
SEND_RETRY_DELAY = 0.2


def frame(topic, event, seq, data):
    """The serialised event frame a client receives (JSON text), made once per publish."""
    return _frame(topic, event, seq, orjson.dumps(data))


def _frame(topic, event, seq, data_json):
    """frame() around data already serialised (the outbox row stores the same bytes):
    byte for byte what orjson makes of {"type", "topic", "event", "seq", "data"}."""
    return b"".join((b'{"type":"event","topic":', orjson.dumps(topic), b',"event":',
                     orjson.dumps(event), b',"seq":', b"null" if seq is None else b"%d" % seq,
                     b',"data":', data_json, b"}")).decode()


def direct_frame(topic, event, data):
    """A checked ephemeral frame for a single connection (not sent through a topic)."""
    if not isinstance(data, dict):
        raise ValueError("event data must be a dict")
    check_event(event, data)
    return frame(topic, event, None, data)


def _check(topic, event, data):
    parse_topic(topic)
    if not isinstance(data, dict):
        raise ValueError("event data must be a dict")
    check_event(event, data)


def publish(topic, event, data, *, ephemeral=False, exclude_connection=None):
    """Publishes one event; returns its seq (None when ephemeral).

    Durable: the outbox row is written in the current transaction (or its own) and the
    send is scheduled on commit, so a rolled-back change is never announced.
    """
    return publish_many([(topic, event, data)], ephemeral=ephemeral,
                        exclude_connection=exclude_connection)[0]


def publish_many(events, *, ephemeral=False, exclude_connection=None):
    """Publishes [(topic, event, data), ...] in order; returns their seqs.

    One statement (counter bumps + outbox rows) for all the topics on PostgreSQL, one per
    topic elsewhere: a 5,000-item ingest batch or chat's batch of sends to 100 rooms costs
    one query, not 5,000 or 100; the data is serialised once, for the outbox row and the
    frame alike.
    """
    events = list(events)
    for topic, event, data in events:
        _check(topic, event, data)
    if ephemeral:
        messages = [_message(t, None, e, frame(t, e, None, d), exclude_connection)
                    for t, e, d in events]
        _send_sync(messages)
        return [None] * len(events)
    encoded = [orjson.dumps(data) for _, _, data in events]
    by_topic = defaultdict(list)
    for position, (topic, _, _) in enumerate(events):
        by_topic[topic].append(position)
    seqs = [None] * len(events)
    now = timezone.now()
    # On PostgreSQL one topic is one statement, atomic on its own (or part of the caller's
    # transaction): no BEGIN/COMMIT round trips of ours around it.
    # Webhook deliveries are written beside the outbox rows (same transaction, same order).
    hooked = webhook_hook.wanted(events)
    single = connection.vendor == "postgresql" and len(by_topic) == 1 and not hooked
    with contextlib.nullcontext() if single else transaction.atomic():
        # Counters are locked in topic order: two writers of the same topics cannot deadlock.
        lasts = outbox.append_many({topic: [(events[p][1], encoded[p]) for p in positions]
                                    for topic, positions in by_topic.items()}, now)
        for topic, positions in by_topic.items():
            for offset, position in enumerate(positions):
                seqs[position] = lasts[topic] - len(positions) + 1 + offset
        messages = [_message(topic, seq, event, _frame(topic, event, seq, data_json),
                             exclude_connection)
                    for (topic, event, _), seq, data_json in zip(events, seqs, encoded, strict=True)]
        if hooked:
            webhook_hook.published(events, now)
        # Outside any transaction (autocommit) this runs at once: the row is committed.
        transaction.on_commit(lambda: _send_sync(messages), robust=True)
    return seqs


def _message(topic, seq, event, payload, exclude):
    return {"topic": topic, "seq": seq, "event": event, "frame": payload, "exclude": exclude,
            "ts": time.time()}


def _group_messages(messages):
    """Consecutive messages of one topic travel together, SEND_CHUNK and about
    SEND_CHUNK_BYTES of frames at most."""
    batch, size = [], 0
    for message in messages:
        length = len(message["frame"])
        if batch and (batch[-1]["topic"] != message["topic"] or len(batch) >= SEND_CHUNK
                      or size + length > SEND_CHUNK_BYTES):
            yield batch[0]["topic"], batch
            batch, size = [], 0
        batch.append(message)
        size += length
    if batch:
        yield batch[0]["topic"], batch


async def _group_send(group, message):
    """group_send, tried up to SEND_ATTEMPTS times with a growing pause: after a Redis
    restart a process's pooled connection fails its first command, and a retry gets a fresh
    one.  Without this, control messages
    (logout, kick) and ephemeral events sent right after a restart would be lost."""
    layer = get_channel_layer()
    for attempt in range(SEND_ATTEMPTS):
        try:
            return await layer.group_send(group, message)
        except (RedisConnectionError, RedisTimeoutError, OSError):
            if attempt == SEND_ATTEMPTS - 1:
                raise
            await asyncio.sleep(SEND_RETRY_DELAY * (attempt + 1))


async def send_messages(messages):
    """Sends prepared event messages to every process with subscribers (async)."""
    for topic, batch in _group_messages(messages):
        await _group_send(topic_group(topic), {"type": "rt.events", "events": batch})


async def send_control(group, message):
    """Sends a server-only control message (close a user's sockets, push to a connection)."""
    await _group_send(group, message)


async def apublish(topic, event, data, *, ephemeral=False, exclude_connection=None,
                   exclude_users=None):
    """publish() for async code.  Ephemeral events go straight out from this loop; durable
    ones cross to a worker thread for the database write.  `exclude_users` (ephemeral
    only): no connection of these user ids gets it (a presence.leave of a user is never
    news to that user's own live subscription)."""
    if ephemeral:
        _check(topic, event, data)
        message = _message(topic, None, event, frame(topic, event, None, data), exclude_connection)
        if exclude_users:
            message["exclude_users"] = list(exclude_users)
        await send_messages([message])
        return None
    from channels.db import database_sync_to_async

    return await database_sync_to_async(publish)(topic, event, data,
                                                 exclude_connection=exclude_connection)


def _send_sync(messages):
    _Sender.get().submit(messages)


def send_control_sync(group, message):
    _Sender.get().submit(send_control(group, message))


def flush(timeout=FLUSH_TIMEOUT):
    """Waits until every send queued by this process so far has reached Redis."""
    sender = _Sender.current
    if sender is not None and sender.pid == os.getpid():
        sender.flush(timeout)


class _Sender:
    """One background thread with an event loop per process, owning the channel layer
    used by sync code.  Sends run in submission order; failures are logged (the outbox
    still has durable events: every hub re-reads it, so nothing is lost)."""

    current = None
    _lock = threading.Lock()

    @classmethod
    def get(cls):
        sender = cls.current
        if sender is None or sender.pid != os.getpid():  # new, or inherited by a fork
            with cls._lock:
                if cls.current is None or cls.current.pid != os.getpid():
                    cls.current = cls()
            sender = cls.current
        return sender

    def __init__(self):
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.queue = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="realtime-sender", daemon=True)
        self.thread.start()
        self.ready.wait()

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.queue = asyncio.Queue()
        self.ready.set()
        self.loop.run_until_complete(self._drain())

    async def _drain(self):
        item = None
        while True:
            if item is None:
                item = await self.queue.get()
            try:
                if isinstance(item, asyncio.Future):
                    item.set_result(None)  # a flush marker: everything before it is sent
                elif isinstance(item, list):
                    # Event messages that queued up meanwhile go out together: consecutive
                    # ones of a topic share a Redis message (a publishing loop's hundreds
                    # of sends become a few), in submission order.
                    messages, item = list(item), None
                    while item is None and not self.queue.empty():
                        following = self.queue.get_nowait()
                        if isinstance(following, list):
                            messages.extend(following)
                        else:
                            item = following  # a control send or a marker: after these
                    await self._send(messages)
                    continue
                else:
                    await item
            except Exception:
                logger.exception("publish send failed (the outbox keeps durable events)")
            item = None

    @staticmethod
    async def _send(messages):
        for topic, batch in _group_messages(messages):
            try:
                await _group_send(topic_group(topic), {"type": "rt.events", "events": batch})
            except Exception:
                logger.exception("publish send failed (the outbox keeps durable events)")

    def submit(self, item):
        """Queues event messages (a list), a control send (a coroutine) or a marker."""
        self.loop.call_soon_threadsafe(self.queue.put_nowait, item)

    def flush(self, timeout):
        done = threading.Event()

        def enqueue_marker():
            marker = self.loop.create_future()
            marker.add_done_callback(lambda _: done.set())
            self.queue.put_nowait(marker)

        self.loop.call_soon_threadsafe(enqueue_marker)
        if not done.wait(timeout):
            logger.warning("publish flush timed out after %ss", timeout)


atexit.register(flush)
