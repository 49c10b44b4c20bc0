"""One connection's subscription to one topic: the seq it has seen and what waits."""


class Subscription:
    """Delivery state of one topic on one connection.

    Invariant: the client has seen every event of the topic up to `last`, in order, once.
    While `syncing` (subscribe in progress) or `catching_up` (reading a gap from the
    outbox) live events are buffered and delivered afterwards in seq order.
    """

    __slots__ = ("topic", "last", "syncing", "catching_up", "buffer", "presence")

    def __init__(self, topic):
        self.topic = topic
        self.last = 0
        self.syncing = True
        self.catching_up = False
        self.buffer = []  # [(seq, frame)]
        self.presence = False

    def offer(self, conn, seq, payload, exclude=None):
        """Delivers or buffers one durable event; True when a gap must be read first."""
        if self.syncing or self.catching_up:
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
        return sorted(seen.items())
