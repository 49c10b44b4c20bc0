"""A socket's requests of concurrent actions (registered with concurrent=True, e.g.
chat.send) run as tasks, so one socket's sends can wait on the same group commit instead
of each waiting for the one before it.  What it guarantees:

- The checks of every frame still run in order, in the socket's frame loop, before any
  work (realtime/frames.py); only the handler runs in a task.
- Answers (replies and errors) go out in request order, whatever order handlers finish
  in: an answer waits behind the earlier ones still in flight.
- At most REALTIME_MAX_INFLIGHT_PER_CONNECTION run at once; past it the frame loop waits
  for one to finish before it reads the next frame.
- A request of any other action waits until every one in flight is done and answered
  (RealtimeConsumer.on_frame), so a subscribe or unsubscribe keeps its place in the order.

Created on a socket's first concurrent request: idle sockets hold none.
"""

import asyncio
from collections import deque

from django.conf import settings

from realtime.send_queue import ClientGone


class _Answer:
    __slots__ = ("request_id", "ready", "result", "error", "gone")

    def __init__(self, request_id, ready=False, result=None, error=None):
        self.request_id, self.ready, self.result, self.error = request_id, ready, result, error
        self.gone = False


class InFlight:
    """One connection's requests in flight and the answers waiting for their turn;
    `conn.answer_now(request_id, result, error)` writes an answer."""

    __slots__ = ("conn", "answers", "running", "tasks", "waiter")

    def __init__(self, conn):
        self.conn = conn
        self.answers = deque()  # _Answer, in request order
        self.running = 0
        self.tasks = set()  # strong references: the loop keeps only weak ones
        self.waiter = None  # the frame loop's future while it waits for a slot or the drain

    async def start(self, request_id, work):
        """Called by the frame loop once a request's checks passed: waits for a free slot,
        then runs `work()` (the handler's coroutine function) in a task and returns."""
        while self.running >= settings.REALTIME_MAX_INFLIGHT_PER_CONNECTION:
            await self._wait()
        answer = _Answer(request_id)
        self.answers.append(answer)
        self.running += 1
        task = asyncio.ensure_future(self._run(answer, work))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def pending(self):
        """Whether answers are waiting (in flight, or behind one that is)."""
        return bool(self.answers)

    def add_ready(self, request_id, result=None, error=None):
        """An answer of a request handled in the frame loop, behind those in flight."""
        self.answers.append(_Answer(request_id, True, result, error))
        self._flush()

    async def drained(self):
        """Returns once every request in flight is done and answered."""
        while self.answers:
            await self._wait()

    async def _run(self, answer, work):
        try:
            answer.result = await work()
        except ClientGone:
            answer.gone = True  # closed while it waited to write: nobody to answer
        except Exception as exc:
            answer.error = exc
        finally:
            answer.ready = True
            self.running -= 1
            self._flush()
            self._wake()

    def _flush(self):
        answers = self.answers
        while answers and answers[0].ready:
            answer = answers.popleft()
            if not answer.gone:
                self.conn.answer_now(answer.request_id, answer.result, answer.error)
        if not answers:
            self._wake()

    def _wait(self):
        if self.waiter is None or self.waiter.done():
            self.waiter = asyncio.get_running_loop().create_future()
        return self.waiter

    def _wake(self):
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
