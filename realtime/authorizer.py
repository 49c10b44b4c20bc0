"""Topic authorization with its two caches, one per hub (`hub.authorizer`).

- Per connection: the answer to (topic, access) -- allowed, or the error refusing it -- for
  REALTIME_AUTHZ_CACHE_SECONDS, so a socket's stream of writes to one topic asks its
  authorize hook once.  Kept here, by connection id, only for connections that asked
  (an idle socket holds none); dropped when the connection leaves the hub.
- Per process: topics a `public_read` hook said anyone may read, for
  REALTIME_PUBLIC_TOPIC_CACHE_SECONDS, shared by every connection; and the question in
  flight, so a reconnect storm onto one topic asks once.  A reauthorize of the topic drops
  its answer and makes any answer asked before it stale.

Nothing else writes either cache: a rights change calls revoke(conn), an unsubscribe
forget(conn, topic), a topic's new rules topic_changed(topic).
"""

import asyncio
import time

from django.conf import settings

from realtime import errors, store
from realtime.registry import topic_kinds

# Public-topic answers kept before the expired ones are dropped: bounds the cache when a
# process sees very many public topics (each entry is a topic string and a float).
PUBLIC_TOPICS_MAX = 10_000


class Authorizer:
    """Called before a frame's handler (realtime/frames.py) and by the hub's re-checks."""

    def __init__(self):
        self.grants = {}  # connection id -> {(topic, access): (expires, error or None)}
        self.public_topics = {}  # topic -> monotonic time its "anyone may read" expires
        self.public_generation = 0  # bumped by every topic_changed: older answers are stale
        self.public_asking = {}  # topic -> (future of the answer, generation asked at)

    # --- per connection ------------------------------------------------------------------
    async def check(self, conn, topic, kind, key, access, fresh=False):
        """Returns when conn may `access` topic; raises the ProtocolError refusing it.
        `fresh` asks the hook whatever is cached (a subscribe, a re-check)."""
        now = time.monotonic()
        cache = self.grants.get(conn.id)
        cached = None if fresh or cache is None else cache.get((topic, access))
        if cached is None or cached[0] < now:
            denial = await self._ask(conn, topic, topic_kinds[kind], key, access)
            cached = (now + settings.REALTIME_AUTHZ_CACHE_SECONDS, denial)
            # A connection on its way out keeps nothing: drop() may already have run.
            if not conn.closing:
                self.grants.setdefault(conn.id, {})[(topic, access)] = cached
        if cached[1] is not None:
            raise cached[1]

    def forget(self, conn, topic, access="write"):
        """conn left topic: its cached write answer goes (a later write asks again)."""
        cache = self.grants.get(conn.id)
        if cache is not None:
            cache.pop((topic, access), None)

    def revoke(self, conn):
        """conn's user or rights changed: every cached answer of conn goes."""
        self.grants.pop(conn.id, None)

    def drop(self, conn):
        """conn left the hub (closed)."""
        self.grants.pop(conn.id, None)

    async def _ask(self, conn, topic, topic_kind, key, access):
        """None when allowed, else the error to raise; asks the hooks in a worker thread."""
        if conn.user_id is None and not topic_kind.anonymous_read:
            return errors.Forbidden("Log in to follow this topic.", field="topic")
        if conn.user_id is None and access == "write":
            return errors.Forbidden("Log in to do that.", field="topic")
        if access == "read" and await self.known_public(topic):
            return None
        public = access == "read" and topic_kind.public_read is not None
        asking = self.ask_public(topic) if public else None
        is_public = False
        try:
            allowed, is_public = await store.run_sync(_authorize, topic_kind, conn.user, key,
                                                      access, public)
            if not allowed:
                return errors.Forbidden(f"You may not {access} {topic}.", field="topic")
            return None
        except errors.ProtocolError as exc:
            return exc
        finally:
            if asking is not None:
                self.answer_public(topic, asking, is_public)

    # --- per process: public topics ----------------------------------------------------
    async def known_public(self, topic):
        """Whether a recent public_read answer says anyone may read topic; while another
        connection is asking, its answer (a reconnect storm onto one topic asks once)."""
        expires = self.public_topics.get(topic)
        if expires is not None and expires > time.monotonic():
            return True
        asking = self.public_asking.get(topic)
        return bool(asking is not None and await asyncio.shield(asking[0]))

    def ask_public(self, topic):
        """Marks a public_read question about topic in flight; answer_public() ends it."""
        if topic in self.public_asking:
            return None  # asked meanwhile by another connection: its answer is shared
        asking = self.public_asking[topic] = (asyncio.get_running_loop().create_future(),
                                              self.public_generation)
        return asking

    def answer_public(self, topic, asking, is_public):
        """Caches the answer, unless a reauthorize came since the question (it may predate
        the topic turning private), and releases those waiting for it."""
        future, generation = asking
        if self.public_asking.get(topic) is asking:
            del self.public_asking[topic]
        is_public = is_public and generation == self.public_generation
        if is_public:
            if len(self.public_topics) > PUBLIC_TOPICS_MAX:
                now = time.monotonic()
                self.public_topics = {t: e for t, e in self.public_topics.items() if e > now}
            self.public_topics[topic] = time.monotonic() + settings.REALTIME_PUBLIC_TOPIC_CACHE_SECONDS
        if not future.done():
            future.set_result(is_public)

    def topic_changed(self, topic):
        """Who may read topic changed (rt.reauthorize): its public answer goes, one being
        asked is answered "no" (its waiters ask for themselves), older answers are stale."""
        self.public_generation += 1
        self.public_topics.pop(topic, None)
        asking = self.public_asking.pop(topic, None)
        if asking is not None and not asking[0].done():
            asking[0].set_result(False)


def _authorize(topic_kind, user, key, access, public):
    """(allowed, whether it is because the topic is public); runs in a worker thread."""
    if public and topic_kind.public_read(key):
        return True, True
    return bool(topic_kind.authorize(user, key, access)), False
