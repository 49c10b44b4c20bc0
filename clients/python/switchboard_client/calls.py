"""Requests and subscriptions of a `Client` (a mixin: the connection loop is client.py).

Every request gets its own id ("c1", "c2", ...) and exactly one reply or error frame;
requests made while the socket is down wait in `_pending` and are sent after the next
connect, behind the resubscribes.
"""

import asyncio
import logging

from switchboard_client import errors, options, protocol
from switchboard_client.subscription import Gap, Subscription

logger = logging.getLogger("switchboard_client")
TRANSIENT_CODES = ("rate_limited", "unavailable", "internal")


class _Pending:
    __slots__ = ("id", "action", "text", "future", "retry", "sent")

    def __init__(self, request_id, action, text, future, retry):
        self.id, self.action, self.text, self.future = request_id, action, text, future
        self.retry, self.sent = retry, False


class CallsMixin:
    async def request(self, action, topic=None, data=None, *, timeout=None, retry=False):
        """Sends `{"action", "request_id", "topic", "data"}` and returns the reply's data.

        Raises the server's error as its typed exception (`errors.Forbidden`, ...), or
        `RequestTimeout` (no reply within `timeout`, default request_timeout: the server may
        still have done it), `Disconnected` (the socket dropped while it was in flight) or
        `ClientClosed`.  `retry=True` resends a request that was in flight when the socket
        dropped, after the reconnect: only for idempotent actions (chat.send with the same
        client_id is one)."""
        pending = self._enqueue(action, topic, data, retry)
        return await self._wait(pending, self.request_timeout if timeout is None else timeout)

    def subscribe(self, topic, *, since=None):
        """A `Subscription` to iterate (`async for item in client.subscribe(topic)`): joins the
        topic now (or at the next connect) and after every reconnect with `since` = the last
        seq received.  Pass `since` (e.g. a saved `sub.seen_seq`) to resume from an earlier
        run.  Subscribing again to a topic ends the previous Subscription of it."""
        self._check_usable()
        previous = self._subs.get(topic)
        if previous is not None:
            previous._finish(None)
        sub = Subscription(self, topic, since)
        self._subs[topic] = sub
        if self._ready:
            self._start_subscribe(sub)
        return sub

    # --- requests ---------------------------------------------------------------------
    def _check_usable(self):
        if self._failure is not None:
            raise self._failure
        if self._closing:
            raise errors.ClientClosed("The client was closed.")
        if self._runner is None:
            raise RuntimeError("connect() first, or use `async with Client(...) as client`")

    def _enqueue(self, action, topic, data, retry):
        self._check_usable()
        request_id = f"c{next(self._ids)}"
        text = protocol.encode(protocol.request_frame(action, request_id, topic, data))
        future = asyncio.get_running_loop().create_future()
        # Nobody may await a request whose caller was cancelled: no "never retrieved" noise.
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        pending = self._pending[request_id] = _Pending(request_id, action, text, future, retry)
        return pending

    async def _wait(self, pending, timeout):
        try:
            async with asyncio.timeout(timeout):
                if self._ready and self._ws is not None:
                    await self._transmit(self._ws, pending)
                return await pending.future
        except TimeoutError as exc:
            if isinstance(exc, errors.ProtocolError):
                raise
            raise errors.RequestTimeout(f"No reply to {pending.action} within {timeout} s.") from None
        finally:
            self._pending.pop(pending.id, None)

    async def _transmit(self, ws, pending):
        """Sends a pending request once; a socket that closed under it leaves it queued."""
        from websockets.exceptions import ConnectionClosed

        if pending.sent or pending.future.done():
            return
        pending.sent = True
        try:
            await ws.send(pending.text)
        except ConnectionClosed:
            pending.sent = False

    # --- subscriptions ----------------------------------------------------------------
    def _start_subscribe(self, sub):
        """Registers a subscribe of `sub` (since its last seq) and finishes it in a task."""
        since = sub.last_seq
        pending = self._enqueue("subscribe", sub.topic, {} if since is None else {"since": since}, False)
        sub.syncing = True
        self._spawn(self._finish_subscribe(sub, pending, since))
        return pending

    async def _finish_subscribe(self, sub, pending, since):
        ws = self._ws
        try:
            reply = await self._wait(pending, self.request_timeout)
        except (errors.Disconnected, errors.ClientClosed):
            sub.syncing = False  # resubscribed at the next connect
            return
        except errors.RequestTimeout:
            sub.syncing = False
            if ws is not None and ws is self._ws:  # a live socket that does not answer is unhealthy
                await ws.close(options.CLOSE_CLIENT_GIVES_UP, "subscribe timeout")
            return
        except errors.ProtocolError as exc:
            sub.syncing = False
            if exc.code in TRANSIENT_CODES:
                await asyncio.sleep(exc.retry_after or options.SUBSCRIBE_RETRY)
                if sub.active and self._subs.get(sub.topic) is sub and self._ready and ws is self._ws:
                    self._start_subscribe(sub)
                return
            # forbidden / not_found / unknown_topic: final, raised to the iterating caller.
            if self._subs.get(sub.topic) is sub:
                sub._finish(exc)
            return
        if not sub.active or self._subs.get(sub.topic) is not sub:
            return
        sub.syncing = False
        seq = reply.get("seq")
        resync = since is not None and not reply.get("recovered")
        if isinstance(seq, int) and (resync or sub.last_seq is None or seq > sub.last_seq):
            # First join, or the server could not replay: follow on from its latest seq.
            sub.last_seq = seq
        sub._on_reply(reply)
        if resync:
            logger.warning("switchboard: %s could not be resumed after seq %s; refetch it", sub.topic, since)
            sub._push(Gap(sub.topic, since, seq, reply))

    async def _unsubscribe(self, sub):
        """After sub.close(): tells the server, unless the topic was subscribed again."""
        if self._ready and sub.topic not in self._subs and not self._closing:
            try:
                await self.request("unsubscribe", sub.topic)
            except errors.ProtocolError as exc:  # not_subscribed, disconnected: nothing to undo
                logger.debug("switchboard: unsubscribe %s: %s", sub.topic, exc)

    def _forget(self, sub):
        if self._subs.get(sub.topic) is sub:
            del self._subs[sub.topic]
