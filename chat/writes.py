"""Group commit of chat.send, and the process's bound on waiting writes.

`send()` is what the socket's chat.send awaits.  Sends that arrive while a batch is being
written wait in a queue and go together as the next batch: one transaction, one multi-row
insert, one outbox statement per room (chat.services.messages_create_many).  There is no
timer: an idle process writes a lone send at once, a busy one writes bigger batches, so a
process stores far more messages per second than one transaction per send allows while
each send is still answered only after its own commit.

`admit()` bounds what waits: past REALTIME_MAX_PENDING_WRITES writes (queued socket sends
plus REST/admin writes in progress), or once the oldest has waited
REALTIME_MAX_WRITE_WAIT_SECONDS, a new write is refused at once with `overloaded` and
`retry_after` (counted on /metrics, logged at most once per LOG_EVERY_SECONDS).
"""

import asyncio
import contextlib
import itertools
import logging
import os
import threading
import time
import weakref
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections

from realtime import WRITE_BATCH_SIZE, WRITES_PENDING, WRITES_REFUSED
from realtime.errors import Overloaded

logger = logging.getLogger("chat.writes")

# An overloaded process refuses many writes a second; one log line per this many seconds
# (with the count since the last) says so without flooding the log.
LOG_EVERY_SECONDS = 10.0


class _Gate:
    """Process-wide count of waiting writes and their start times (thread-safe: the event
    loop's batcher and REST views in worker threads share it)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.waiting = {}  # token -> monotonic start, oldest first (insertion order)
        self.tokens = itertools.count()
        self.refused_since_log = 0
        self.logged_at = 0.0

    def enter(self, path):
        """A token for one write, or raises Overloaded (nothing is queued then)."""
        now = time.monotonic()
        with self.lock:
            if self.waiting:
                oldest = now - next(iter(self.waiting.values()))
                if len(self.waiting) >= settings.REALTIME_MAX_PENDING_WRITES \
                        or oldest > settings.REALTIME_MAX_WRITE_WAIT_SECONDS:
                    self._refused(path, len(self.waiting), oldest, now)
                    raise Overloaded(retry_after=settings.REALTIME_OVERLOAD_RETRY_AFTER)
            token = next(self.tokens)
            self.waiting[token] = now
            WRITES_PENDING.set(len(self.waiting))
        return token

    def leave(self, token):
        with self.lock:
            self.waiting.pop(token, None)
            WRITES_PENDING.set(len(self.waiting))

    def _refused(self, path, pending, oldest, now):
        WRITES_REFUSED.labels(path).inc()
        self.refused_since_log += 1
        if now - self.logged_at >= LOG_EVERY_SECONDS:
            logger.warning("overloaded: %d writes waiting, the oldest for %.2fs; refused %d "
                           "write(s) with retry_after since the last report", pending, oldest,
                           self.refused_since_log)
            self.logged_at, self.refused_since_log = now, 0

    def pending(self):
        with self.lock:
            return len(self.waiting)


gate = _Gate()


@contextlib.contextmanager
def admitted(path):
    """Around a write made in the calling thread (chat.services.message_create: REST,
    admin): raises Overloaded when the process is over its bound, else counts the write
    as waiting until it is done."""
    token = gate.enter(path)
    try:
        yield
    finally:
        gate.leave(token)


_executors = {}
_executors_lock = threading.Lock()


def _executor():
    """The process's REALTIME_WRITE_THREADS batch writers (made again in a forked child)."""
    pid = os.getpid()
    executor = _executors.get(pid)
    if executor is None:
        with _executors_lock:
            executor = _executors.get(pid)
            if executor is None:
                executor = _executors[pid] = ThreadPoolExecutor(
                    settings.REALTIME_WRITE_THREADS, thread_name_prefix="chat-writes")
    return executor


def _write_batch(sends):
    """Runs in a batch writer thread: [(True, serialized message) | (False, exception)]."""
    from chat import services
    from chat.serialize import serialize_message

    close_old_connections()
    try:
        results = services.messages_create_many(sends)
        return [(False, r) if isinstance(r, BaseException) else (True, serialize_message(r))
                for r in results]
    finally:
        close_old_connections()


class _Batcher:
    """The queue of one event loop's socket sends and the batches in flight.

    An author's sends to a room commit in the order they were submitted (a socket's sends
    overlap, realtime/inflight.py): a send whose (author, room) has a batch in flight waits
    for the next batch, and so do that pair's later sends."""

    def __init__(self, loop):
        self.loop = loop
        self.queue = deque()  # (send dict, future, gate token, (author, room))
        self.running = 0
        self.busy = Counter()  # (author, room) -> sends of it in batches in flight

    def submit(self, send):
        token = gate.enter("socket")
        future = self.loop.create_future()
        key = (send["author"].pk, send["room"])
        self.queue.append((send, future, token, key))
        # A pair with a batch in flight waits for it (and everything queued before it waits
        # already, or _start would have taken it): only _finished can start anything then.
        if key not in self.busy:
            self._start()
        return future

    def _start(self):
        while self.queue and self.running < settings.REALTIME_WRITE_THREADS:
            batch = self._take(settings.REALTIME_WRITE_BATCH_MAX)
            if not batch:
                return  # all that waits is behind batches in flight
            self.running += 1
            WRITE_BATCH_SIZE.observe(len(batch))
            self.busy.update(key for *_, key in batch)
            done = self.loop.run_in_executor(_executor(), _write_batch, [s for s, *_ in batch])
            done.add_done_callback(lambda f, batch=batch: self._finished(batch, f))

    def _take(self, size):
        """Up to `size` queued sends, in order, skipping the (author, room) pairs in flight."""
        batch, held, waiting = [], [], set()
        queue, busy = self.queue, self.busy
        while queue and len(batch) < size:
            item = queue.popleft()
            key = item[3]
            if key in busy or key in waiting:
                held.append(item)
                waiting.add(key)
            else:
                batch.append(item)
        queue.extendleft(reversed(held))
        return batch

    def _finished(self, batch, done):
        self.running -= 1
        for _, _, token, key in batch:
            gate.leave(token)
            self.busy[key] -= 1
            if not self.busy[key]:
                del self.busy[key]
        failure = done.exception()
        results = done.result() if failure is None else [(False, failure)] * len(batch)
        for (_, future, _, _), (ok, value) in zip(batch, results, strict=True):
            if future.done():  # the sender's connection went away meanwhile
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        self._start()


_batchers = weakref.WeakKeyDictionary()


async def send(*, room, author, body, client_id):
    """Called by the socket's chat.send: the serialized message once its batch has
    committed (or the original one for a client_id seen before).  Raises what
    chat.services.message_create would for this send alone (invalid, not_found,
    forbidden...), or Overloaded at once when the process is over its bound."""
    loop = asyncio.get_running_loop()
    batcher = _batchers.get(loop)
    if batcher is None:
        batcher = _batchers[loop] = _Batcher(loop)
    future = batcher.submit({"room": room, "author": author, "body": body, "client_id": client_id})
    return await future
