"""Per-topic ordering in the hub: seq order kept, gaps read from the outbox.

A subscriber never sees a topic's seq go backwards, repeat or skip.  An event that
arrives ahead of a missing one waits REALTIME_GAP_WAIT for it, then the gap is read from
the outbox; a subscriber that joined between two events catches up the same way.
"""

import asyncio
import logging

from django.conf import settings

from realtime import metrics, store
from realtime.publish import frame as make_frame

logger = logging.getLogger("realtime.hub")

# Events read from the outbox per query when filling a topic's gap (then the next page).
FILL_PAGE = 1000
# Events a subscriber's catch-up reads at most: its gap is between its subscribe reply and
# the live event that revealed it, a few events unless the process was stalled.
CATCH_UP_MAX = 10_000


class Ordering:
    """One per hub (`hub.ordering`): delivers the layer's events of the topics in
    `hub.topics` (TopicState) in seq order."""

    def __init__(self, hub):
        self.hub = hub

    def event(self, message):
        """Called by the hub's receive loop for each event a publish sent."""
        state = self.hub.topics.get(message["topic"])
        if state is None or not state.conns:
            return
        seq = message["seq"]
        if seq is None:  # ephemeral: no order to keep, nothing to replay
            exclude, users = message.get("exclude"), message.get("exclude_users")
            users = set(users) if users else ()  # a leave of hundreds, to hundreds of sockets
            local = state.conns
            for conn in list(local.values()):
                if conn.id != exclude and conn.user_id not in users:
                    conn.send_frame(message["frame"])
            metrics.frames_out(message.get("event", "")).inc(len(local))
            return
        last = state.last
        if last is not None and seq <= last:
            return  # already delivered (a replayed or duplicate send)
        if last is None or seq == last + 1:
            self._deliver(state, message)
            self._release_pending(state)
            return
        if state.pending is None:
            state.pending = {}
        state.pending[seq] = message
        self.fill(state, wait=settings.REALTIME_GAP_WAIT)

    def fill(self, state, wait=0.0):
        """Reads the topic's missing events from the outbox (after `wait` seconds), unless a
        fill of it is running already."""
        if not state.filling:
            state.filling = True
            asyncio.ensure_future(self._fill_gap(state, wait))

    def _deliver(self, state, message):
        seq, payload, exclude = message["seq"], message["frame"], message.get("exclude")
        topic = state.topic
        state.last = seq
        local = state.conns
        metrics.frames_out(message.get("event", "")).inc(len(local))
        for conn in list(local.values()):
            sub = conn.subs.get(topic)
            if sub is None:
                continue
            if seq == sub.last + 1 and not (sub.syncing or sub.catching_up):
                # The common case, inlined (Subscription.offer's last branch): this loop
                # runs once per subscriber per event.
                sub.last = seq
                if conn.id != exclude:
                    conn.send_frame(payload)
            elif sub.offer(conn, seq, payload, exclude):
                self._catch_up(conn, sub)

    def _release_pending(self, state):
        waiting = state.pending
        while waiting:
            message = waiting.pop(state.last + 1, None)
            if message is None:
                break
            self._deliver(state, message)
        if waiting is not None and not waiting:
            state.pending = None

    async def _fill_gap(self, state, wait):
        topic, topics = state.topic, self.hub.topics
        try:
            if wait:
                await asyncio.sleep(wait)
            while topics.get(topic) is state:
                rows = await store.run_sync(store.events_after, topic, state.last or 0, FILL_PAGE)
                for seq, event, data in rows:
                    if seq == (state.last or 0) + 1:
                        metrics.OUTBOX_FILLS.inc()
                        self._deliver(state, {"seq": seq, "exclude": None, "event": event,
                                              "frame": make_frame(topic, event, seq, data)})
                self._release_pending(state)
                if len(rows) < FILL_PAGE:
                    break
            if state.pending and topics.get(topic) is state:
                # Still missing after reading the outbox: pruned; skip ahead.
                logger.warning("gap in %s after seq %s not in the outbox; skipping ahead",
                               topic, state.last)
                state.last = min(state.pending) - 1
                self._release_pending(state)
        except Exception:
            logger.exception("filling a gap in %s failed; the next poll retries", topic)
        finally:
            state.filling = False

    def _catch_up(self, conn, sub):
        """A subscriber saw a gap (it joined between two events): read it from the outbox."""
        if not sub.catching_up:
            sub.catching_up = True
            asyncio.ensure_future(self._catch_up_task(conn, sub))

    async def _catch_up_task(self, conn, sub):
        try:
            target = min(seq for seq, _ in sub.buffer) - 1 if sub.buffer else sub.last
            rows = await store.run_sync(store.events_after, sub.topic, sub.last, CATCH_UP_MAX, target)
            for seq, event, data in rows:
                if seq == sub.last + 1:
                    conn.send_frame(make_frame(sub.topic, event, seq, data))
                    sub.last = seq
            if sub.buffer and target > sub.last:
                sub.last = target  # pruned meanwhile: nothing more to find
        except Exception:
            logger.exception("catch-up of %s for %s failed", sub.topic, conn.id)
        finally:
            sub.catching_up = False
            self.drain(conn, sub)

    def drain(self, conn, sub):
        """Delivers what sub buffered while syncing or catching up (after a subscribe's
        reply; after a catch-up), in seq order, catching up again at a gap."""
        if sub.catching_up:
            return
        sub.syncing = False
        pending = sub.take_buffer()
        for index, (seq, payload) in enumerate(pending):
            if sub.offer(conn, seq, payload):
                sub.buffer.extend(pending[index + 1:])
                self._catch_up(conn, sub)
                return
