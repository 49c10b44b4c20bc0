"""What the hub knows of one topic its process follows: one object per topic (hub.topics).

Created when the topic's first local connection subscribes and dropped when its last one
leaves; a task working on a topic (a gap fill, a shared read) holds its TopicState and
stops caring once `hub.topics` no longer maps the topic to that same object.
"""


class TopicState:
    """One followed topic.  Invariant: `last` is the highest seq delivered to the topic's
    local subscribers in order (None until known); every seq in `pending` is above it."""

    __slots__ = ("topic", "conns", "last", "pending", "filling", "reading")

    def __init__(self, topic):
        self.topic = topic
        self.conns = {}  # connection id -> LocalConnection subscribed here
        self.last = None  # last seq delivered through this hub
        self.pending = None  # {seq: layer message} arrived ahead of a gap, while any
        self.filling = False  # a gap is being read from the outbox (realtime/ordering.py)
        self.reading = None  # future of the latest seq, read from the outbox now (resume)
