"""One connection's subscription to one topic: the seq it has seen and what waits."""

from django.conf import settings


class Subscription:
    """Delivery state of one topic on one connection.

    Invariant: the client has seen every event of the topic up to `last`, in order, once.
    While `syncing` (subscribe in progress) or `catching_up` (reading a gap from the
    outbox) live events are buffered and delivered afterwards in seq order.  While syncing
    the buffer is bounded (REALTIME_SUBSCRIBE_BUFFER_BYTES): past it, it is dropped and
    `overflowed` set, and the subscribe answers `recovered: false` (realtime/hub.py).
    """

    __slots__ = ("topic", "last", "syncing", "catching_up", "buffer", "presence",
                 "buffered_bytes", "overflowed")

    def __init__(self, topic):
        self.topic = topic
        self.last = 0
        self.syncing = True
        self.catching_up = False
        self.buffer = []  # [(seq, frame)]
        self.presence = False
        self.buffered_bytes = 0
        self.overflowed = False

    def offer(self, conn, seq, payload, exclude=None):
        """Delivers or buffers one durable event; True when a gap must be read first."""
        if self.syncing or self.catching_up:
            if self.syncing:
                if self.overflowed:
                    return False  # the subscribe gives up its replay: nothing to keep
                self.buffered_bytes += len(payload)
                if self.buffered_bytes > settings.REALTIME_SUBSCRIBE_BUFFER_BYTES:
                    self.overflowed, self.buffer = True, []
                    return False
            self.buffer.append((seq, payload))
            return False
        if seq <= self.last:
            return False
        if seq == self.last + 1:
            self.last = seq
            if conn.id != exclude:
                conn.send_frame(payload)
            return False
        self.buffer.append((seq, payload))
        return True

    def take_buffer(self):
        """The buffered events in seq order without duplicates, emptying the buffer."""
        seen = {}
        for seq, payload in self.buffer:
            seen.setdefault(seq, payload)
        self.buffer = []
        self.buffered_bytes = 0
        return sorted(seen.items())
