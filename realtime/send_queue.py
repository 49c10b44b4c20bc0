"""One connection's outgoing frames: a queue bounded in bytes, written by one task.

The consumer creates a SendQueue when a frame must wait and drops it once written, so an
idle socket holds neither a queue nor a task (10,000 idle sockets are a process's largest
memory, docs/performance.md).  What it guarantees:

- Frames reach the server's `send()` in the order queued, one writer task at a time.
- `pending` is what this process holds for the client: the bytes (characters of the JSON
  text, which is what a str costs) queued, plus the frame the server has not yet taken.
  The server takes a frame only while its transport buffer is under its high-water mark:
  uvicorn's websockets-sansio `send()` waits while the transport is paused, and under
  daphne project/daphne_compat.py makes `send()` wait the same way.  So a client that
  does not read shows as pending bytes here, whatever the server.
- A client whose pending bytes stay over REALTIME_SEND_QUEUE_BYTES for
  REALTIME_SEND_QUEUE_GRACE_SECONDS, or pass REALTIME_SEND_QUEUE_HARD_FACTOR times it, is
  reported to its owner (`owner.too_slow()`), which closes it 4503.
- `wait_written(low)` lets a paged resume read its next page only once the previous one
  has been written (realtime/resume.py).
"""

import asyncio
import time
from collections import deque

from django.conf import settings

from realtime.close_codes import close_message

# Frames one writer sends before letting other sockets' writers run (fairness in a burst).
WRITER_YIELD_EVERY = 16
_CLOSE = object()


class ClientGone(Exception):
    """The connection closed (or was closed as too slow) while a request waited to write:
    the request ends quietly, there is nobody to answer."""


class SendQueue:
    """Frames waiting for one client; `owner` is its RealtimeConsumer."""

    __slots__ = ("owner", "send", "frames", "pending", "over_since", "writer", "progress")

    def __init__(self, owner, send):
        self.owner = owner
        self.send = send
        self.frames = deque()
        self.pending = 0
        self.over_since = None  # when pending went over REALTIME_SEND_QUEUE_BYTES
        self.writer = None
        self.progress = None  # a future a waiting resume wakes on after each written frame

    def put(self, text):
        """Queues a text frame; False when the client is too slow (the caller closes it)."""
        self.frames.append(text)
        self.pending += len(text)
        self._start()
        return not self._too_slow()

    def put_close(self, code):
        """Queues the close frame behind what waits (a graceful close)."""
        self.frames.append((_CLOSE, code))
        self._start()

    def cancel(self):
        """Drops every waiting frame and stops the writer (the socket is being aborted)."""
        self.frames.clear()
        self.pending = 0
        if self.writer is not None:
            self.writer.cancel()
        self._wake()

    async def wait_written(self, low_water):
        """Returns True once at most `low_water` bytes are pending; False when the client
        is gone, or no frame was written for the grace period (it is not reading)."""
        grace = settings.REALTIME_SEND_QUEUE_GRACE_SECONDS
        while self.pending > low_water:
            if self.owner.closing:
                return False
            self.progress = future = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(future, grace)
            except TimeoutError:
                return False
        return not self.owner.closing

    # --- internals -------------------------------------------------------------------
    def _too_slow(self):
        bound = settings.REALTIME_SEND_QUEUE_BYTES
        if self.pending <= bound:
            self.over_since = None
            return False
        if self.pending > bound * settings.REALTIME_SEND_QUEUE_HARD_FACTOR:
            return True
        now = time.monotonic()
        grace = settings.REALTIME_SEND_QUEUE_GRACE_SECONDS
        if self.over_since is None:
            self.over_since = now
            # No later frame may come to notice that it stayed over: look again then.
            asyncio.get_running_loop().call_later(grace, self._recheck, now)
            return False
        return now - self.over_since > grace

    def _recheck(self, since):
        """The grace after pending went over the bound at `since`: still over, too slow."""
        if (self.owner.out is self and not self.owner.closing and self.over_since == since
                and self.pending > settings.REALTIME_SEND_QUEUE_BYTES):
            self.owner.too_slow()

    def _wake(self):
        progress, self.progress = self.progress, None
        if progress is not None and not progress.done():
            progress.set_result(None)

    def _start(self):
        """Runs the writer unless it is running: it drains the queue and ends."""
        if self.writer is None or self.writer.done():
            self.writer = asyncio.ensure_future(self._write_loop())

    async def _write_loop(self):
        frames, send = self.frames, self.send
        written = 0
        try:
            while frames:
                item = frames.popleft()
                if type(item) is tuple and item[0] is _CLOSE:
                    frames.clear()
                    self.pending = 0
                    await send(close_message(item[1]))
                    return
                await send({"type": "websocket.send", "text": item})
                self.pending -= len(item)
                if self.over_since is not None and self.pending <= settings.REALTIME_SEND_QUEUE_BYTES:
                    self.over_since = None
                self._wake()
                written += 1
                if written % WRITER_YIELD_EVERY == 0:
                    # A send that returns at once must not let a burst to one socket
                    # starve every other socket's writer until it drained.
                    await asyncio.sleep(0)
        except Exception:  # the socket is gone; the receive side cleans up
            self.owner.closing = True
            frames.clear()
            self.pending = 0
        finally:
            self._wake()
            if not frames and self.owner.out is self:
                self.owner.out = None  # drained: an idle socket keeps no queue
