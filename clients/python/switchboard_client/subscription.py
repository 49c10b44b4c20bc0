"""What a subscription yields (`Event`, `Gap`) and the `Subscription` iterator itself.

A Subscription is created by `Client.subscribe()` and stays registered with its client
until it ends: after every reconnect the client subscribes again with `since` = the last
seq received, so the iterator yields each durable event once, in seq order, across any
number of reconnects.  Events are buffered in memory until the caller reads them.
"""

import asyncio
from dataclasses import dataclass, field

_END = object()


@dataclass(frozen=True)
class Event:
    """One event frame.  `seq` is an int for durable events (gap-free, increasing by 1 per
    topic) and None for ephemeral ones (presence, typing, cursors), which are never replayed."""

    topic: str
    event: str
    seq: int | None
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Gap:
    """The server could not replay what was missed (`recovered: false` on a resubscribe with
    `since`): the events after `since` up to `seq` are not coming.  Refetch the topic's
    state over REST, then keep iterating: the events that follow start after `seq`."""

    topic: str
    since: int | None
    seq: int
    reply: dict = field(default_factory=dict)


class Subscription:
    """`async for item in sub` yields `Event`s (and a `Gap` when history was lost).

    The iteration ends after a `subscription.revoked` event (yielded first) or when the
    subscription or its client is closed; it raises the server's error when a subscribe is
    refused (forbidden, not_found, unknown_topic: final, not retried) and the client's
    error when it stopped for good (e.g. `Unauthenticated`: the token was revoked).

    `async with client.subscribe(topic) as sub:` unsubscribes on exit; without it, call
    `await sub.close()` when done."""

    def __init__(self, client, topic, since=None):
        self.client = client
        self.topic = topic
        # Last durable seq received from the server (what a resubscribe asks to resume from).
        self.last_seq = since
        # Last durable seq yielded to the caller: persist it to resume in a later process
        # (`client.subscribe(topic, since=saved)`).
        self.seen_seq = since
        self.presence = []
        self.reply = None  # the latest subscribe reply {seq, recovered, presence}
        self.active = True
        self.syncing = False  # a subscribe of this topic is in flight
        self._queue = asyncio.Queue()
        self._ready = asyncio.get_running_loop().create_future()
        # Nobody may await ready(): do not let asyncio warn about an unretrieved error.
        self._ready.add_done_callback(lambda f: f.cancelled() or f.exception())

    # --- the caller's side ---------------------------------------------------------
    def __aiter__(self):
        return self

    async def __anext__(self):
        item = await self._queue.get()
        if item is _END:
            self._queue.put_nowait(_END)  # stays ended for any later call
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            self._queue.put_nowait(_END)
            raise item
        if isinstance(item, Event) and item.seq is not None:
            self.seen_seq = item.seq
        elif isinstance(item, Gap):
            self.seen_seq = item.seq
        return item

    async def ready(self):
        """The first subscribe reply `{"seq", "recovered", "presence"}`, or its error."""
        return await asyncio.shield(self._ready)

    async def close(self):
        """Ends the iteration and unsubscribes (if connected); idempotent."""
        if not self.active:
            return
        self._finish(_END)
        await self.client._unsubscribe(self)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    # --- the client's side (called in the client's event loop) ------------------------
    def _on_reply(self, reply):
        self.reply = reply
        self.presence = list(reply.get("presence") or [])
        if not self._ready.done():
            self._ready.set_result(reply)

    def _on_event(self, item):
        if item.event in ("presence.join", "presence.leave"):
            # Set operations, as the protocol asks: a join may name users already listed.
            users = item.data.get("users") or []
            ids = {user.get("id") for user in users}
            self.presence = [user for user in self.presence if user.get("id") not in ids]
            if item.event == "presence.join":
                self.presence = sorted(self.presence + list(users), key=lambda u: u.get("id") or 0)
        self._queue.put_nowait(item)
        if item.event == "subscription.revoked":
            self._finish(_END)

    def _push(self, item):
        self._queue.put_nowait(item)

    def _finish(self, end):
        """Ends the subscription with _END or an exception (raised to the caller)."""
        if not self.active:
            return
        self.active = False
        if not self._ready.done():
            if isinstance(end, BaseException):
                self._ready.set_exception(end)
            else:
                self._ready.cancel()
        self._queue.put_nowait(end)
        self.client._forget(self)
