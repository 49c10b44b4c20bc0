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


class OrderingMixin:
    """Mixed into Hub: uses self.topics, self.topic_last, self.pending, self.filling."""

    def _topic_event(self, message):
        topic, seq = message["topic"], message["seq"]
        local = self.topics.get(topic)
        if not local:
            return
        if seq is None:  # ephemeral: no order to keep, nothing to replay
            exclude, users = message.get("exclude"), message.get("exclude_users")
            users = set(users) if users else ()  # a leave of hundreds, to hundreds of sockets
            for conn in list(local.values()):
                if conn.id != exclude and conn.user_id not in users:
                    conn.send_frame(message["frame"])
            metrics.frames_out(message.get("event", "")).inc(len(local))
            return
        last = self.topic_last.get(topic)
        if last is not None and seq <= last:
            return  # already delivered (a replayed or duplicate send)
        if last is None or seq == last + 1:
            self._deliver(topic, message)
            self._release_pending(topic)
            return
        self.pending.setdefault(topic, {})[seq] = message
        if topic not in self.filling:
            self.filling.add(topic)
            asyncio.ensure_future(self._fill_gap(topic, wait=settings.REALTIME_GAP_WAIT))

    def _deliver(self, topic, message):
        seq, payload, exclude = message["seq"], message["frame"], message.get("exclude")
        self.topic_last[topic] = seq
        local = self.topics.get(topic, {})
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

    def _release_pending(self, topic):
        waiting = self.pending.get(topic)
        while waiting:
            message = waiting.pop(self.topic_last[topic] + 1, None)
            if message is None:
                break
            self._deliver(topic, message)
        if waiting is not None and not waiting:
            self.pending.pop(topic, None)

    async def _fill_gap(self, topic, wait=0.0):
        """Reads a topic's missing events from the outbox and delivers them in order."""
        try:
            if wait:
                await asyncio.sleep(wait)
            while topic in self.topics:
                last = self.topic_last.get(topic) or 0
                rows = await store.run_sync(store.events_after, topic, last, 1000)
                for seq, event, data in rows:
                    if seq == self.topic_last.get(topic, 0) + 1:
                        metrics.OUTBOX_FILLS.inc()
                        self._deliver(topic, {"seq": seq, "exclude": None, "event": event,
                                              "frame": make_frame(topic, event, seq, data)})
                self._release_pending(topic)
                if len(rows) < 1000:
                    break
            waiting = self.pending.get(topic)
            if waiting:  # still missing after reading the outbox: pruned; skip ahead
                logger.warning("gap in %s after seq %s not in the outbox; skipping ahead",
                               topic, self.topic_last.get(topic))
                self.topic_last[topic] = min(waiting) - 1
                self._release_pending(topic)
        except Exception:
            logger.exception("filling a gap in %s failed; the next poll retries", topic)
        finally:
            self.filling.discard(topic)

    def _catch_up(self, conn, sub):
        """A subscriber saw a gap (it joined between two events): read it from the outbox."""
        if not sub.catching_up:
            sub.catching_up = True
            asyncio.ensure_future(self._catch_up_task(conn, sub))

    async def _catch_up_task(self, conn, sub):
        try:
            target = min(seq for seq, _ in sub.buffer) - 1 if sub.buffer else sub.last
            rows = await store.run_sync(store.events_after, sub.topic, sub.last, 10_000, target)
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
            self._drain(conn, sub)

    def _drain(self, conn, sub):
        if sub.catching_up:
            return
        sub.syncing = False
        pending = sub.take_buffer()
        for index, (seq, payload) in enumerate(pending):
            if sub.offer(conn, seq, payload):
                sub.buffer.extend(pending[index + 1:])
                self._catch_up(conn, sub)
                return
