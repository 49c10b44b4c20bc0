"""The per-process hub: one channel-layer subscription per topic, in-process fan-out.

A process subscribes its one hub channel to a topic's group when its first local
connection subscribes, and leaves when its last one goes, so Redis delivers each event
once per process however many of its sockets follow the topic, and the frame serialised
by publish() is forwarded as is.  The pub/sub subscription dies with the process's Redis
connection, so a killed process leaves no member behind (the "lease" of a membership is
the live connection itself, refreshed by Redis's own keepalive).

Ordering and gap filling live in realtime/ordering.py; heartbeats, the outbox poll (which
recovers lost broadcasts) and shutdown in realtime/maintenance.py; presence (joins, leaves,
announcements) in realtime/hub_presence.py, composed in as `self.presence`.
"""

import asyncio
import logging
import os
import secrets
import socket
import time
import weakref

from channels.layers import get_channel_layer
from django.conf import settings

from realtime import metrics, session_auth, store
from realtime.authorizer import Authorizer
from realtime.close_codes import CloseCode
from realtime.connlog import ConnectionLog
from realtime.hub_presence import HubPresence
from realtime.maintenance import MaintenanceMixin
from realtime.ordering import OrderingMixin
from realtime.publish import direct_frame
from realtime.registry import topic_group, topic_kinds
from realtime.subscriptions import Subscription

logger = logging.getLogger("realtime.hub")

_hubs = weakref.WeakKeyDictionary()


def instance_group(instance):
    return "c.proc." + instance


# Every hub listens here, for control messages about a topic wherever it is followed.
ALL_GROUP = "c.all"
# Seconds stop() waits for its cancelled tasks before cancelling the stragglers again: a
# cancelled loop ends within a turn or two, so one second only matters for a lost cancel.
STOP_RECANCEL_SECONDS = 1.0


def user_group(user_id):
    return f"c.user.{user_id}"


async def get_hub():
    """The hub of the running event loop, started on first use."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub()
        try:
            await hub.start()
        except BaseException:
            _hubs.pop(loop, None)  # the next connection tries again
            hub.started.set()
            raise
    elif not hub.started.is_set():
        await hub.started.wait()  # the first connection of the process is starting it
        if hub.channel is None:
            raise RuntimeError("the realtime hub failed to start")
    return hub


async def close_hub():
    """Stops the running loop's hub (tests; a server process just exits)."""
    hub = _hubs.pop(asyncio.get_running_loop(), None)
    if hub is not None:
        await hub.stop()


class Hub(OrderingMixin, MaintenanceMixin):
    def __init__(self):
        self.instance = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self.layer = get_channel_layer()
        self.channel = None
        self.connections = {}  # id -> LocalConnection
        self.topics = {}  # topic -> {connection id: LocalConnection}
        self.users = {}  # user id -> {connection id: LocalConnection}
        self.topic_last = {}  # topic -> last seq delivered through this hub
        self.pending = {}  # topic -> {seq: message} that arrived ahead of a gap
        self.filling = set()  # topics whose gap is being read from the outbox
        self.tasks = []
        self.reading = {}  # topic -> future of its latest seq, read from the outbox now
        self.user_changed = {}  # user id -> monotonic time of their last rights change
        self.rechecking = {}  # user id -> re-check of their sockets in flight (session_auth)
        self.group_lock = asyncio.Lock()
        self.started = asyncio.Event()
        self.connlog = ConnectionLog()
        self.authorizer = Authorizer()
        self.presence = HubPresence()
        self.announcer = self.presence.announcer  # the heartbeat's sweep adds leaves to it

    async def start(self):
        self.channel = await self.layer.new_channel("hub.")
        await self.layer.group_add(instance_group(self.instance), self.channel)
        await self.layer.group_add(ALL_GROUP, self.channel)
        await self._renew_instance_lease()
        self._chain_shutdown_signals()
        self.tasks = [asyncio.ensure_future(self._receive_loop()),
                      asyncio.ensure_future(self._heartbeat_loop()),
                      asyncio.ensure_future(self._poll_loop()),
                      asyncio.ensure_future(self.connlog.run())]
        self.started.set()

    async def stop(self):
        try:
            await self.connlog.flush_now()
        except Exception:
            logger.warning("connection log not flushed at stop")
        self.presence.stop()
        # Cancelled again until each has ended: a cancellation can be lost (Python 3.11's
        # asyncio.wait_for returns a result that completed in the same turn as the cancel,
        # and the loop task then sleeps on), which left stop() waiting forever.
        pending = set(self.tasks)
        while pending:
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=STOP_RECANCEL_SECONDS)
        for conn in list(self.connections.values()):
            conn.close(CloseCode.GOING_AWAY)

    # --- connections and subscriptions -------------------------------------------
    async def add_connection(self, conn):
        self.connections[conn.id] = conn
        if conn.user_id is not None:
            local = self.users.setdefault(conn.user_id, {})
            local[conn.id] = conn
            if len(local) == 1:
                await self._group_add(user_group(conn.user_id))
            if session_auth.changed_recently(self, conn):
                session_auth.recheck_soon(self, conn.user_id)

    async def remove_connection(self, conn):
        for topic in list(conn.subs):
            await self.unsubscribe(conn, topic)
        self.connections.pop(conn.id, None)
        self.authorizer.drop(conn)
        if conn.user_id is not None:
            local = self.users.get(conn.user_id, {})
            local.pop(conn.id, None)
            if not local:
                self.users.pop(conn.user_id, None)
                await self._group_discard(user_group(conn.user_id))

    async def subscribe(self, conn, topic, since):
        """Joins conn to topic; replays what it missed since `since` when still in the
        window, page by page as the socket takes them (_replay); returns the reply data.
        Live events arriving meanwhile are buffered, up to REALTIME_SUBSCRIBE_BUFFER_BYTES:
        past it the replay is given up and the reply says `recovered: false` at the
        latest seq (the client refetches; live events follow from there, gap-free)."""
        resubscribe = topic in conn.subs
        sub = conn.subs.get(topic)
        if sub is None:
            sub = Subscription(topic)
            metrics.SUBSCRIPTIONS.inc()
        sub.syncing = True
        conn.subs[topic] = sub
        local = self.topics.setdefault(topic, {})
        local[conn.id] = conn
        if len(local) == 1:
            await self._group_add(topic_group(topic))
        known = self.topic_last.get(topic)
        if (len(local) > 1 and known is not None and topic not in self.pending
                and topic not in self.filling and since in (None, known)):
            # This process already follows the topic and is caught up, so its last seq is
            # the topic's as far as any broadcast has said (a newer one arrives live, a
            # lost one through the outbox poll): no database read for a subscribe storm.
            latest, replay = known, (None if since is None else [])
        else:
            try:
                latest, replay = await self._resume_state(topic, since)
            except BaseException:
                await self.unsubscribe(conn, topic)
                raise
        if self.topic_last.get(topic) is None or self.topic_last[topic] < latest:
            self.topic_last[topic] = latest
        recovered = replay is not None
        if replay:
            try:
                recovered = await self._replay(conn, sub, since, latest, replay)
            except BaseException:
                await self.unsubscribe(conn, topic)
                raise
        sub.last = latest
        kind = topic_kinds[topic.split(":", 1)[0]]
        reply = {"presence": []}
        if kind.presence:
            sub.presence = True
            try:
                reply = await self.presence.subscribed(conn, topic, resubscribe)
            except BaseException:
                # Redis down: undo, or the half-made subscription buffers events forever.
                await self.unsubscribe(conn, topic)
                raise
        if sub.overflowed or not recovered and replay:
            # Given up: what was buffered is dropped, the client starts over at the seq this
            # process has delivered (every buffered event is at or below it).
            latest = max(latest, self.topic_last.get(topic) or 0)
            sub.last, sub.buffer, sub.buffered_bytes, sub.overflowed = latest, [], 0, False
            recovered = False
        return {"seq": latest, "recovered": recovered, **reply}

    async def _replay(self, conn, sub, since, latest, page):
        """Sends the events after `since` up to `latest`, starting with `page`, reading each
        next page (store.events_page) only once the socket has taken the previous one but
        REALTIME_RESUME_LOW_WATER_BYTES: one resume holds about a page in memory, however
        many events it replays.  True when all were sent; False when the live buffer
        overflowed or the outbox lost some meanwhile (pruned).  Raises ClientGone (through
        conn.wait_written) when the client stops reading: it was closed 4503."""
        topic, sent = sub.topic, since
        while True:
            for seq, text in page:
                if seq != sent + 1:
                    return False
                conn.send_frame(text)
                sent = seq
            if sent >= latest:
                return True
            await conn.wait_written(settings.REALTIME_RESUME_LOW_WATER_BYTES)
            if sub.overflowed:
                return False
            page = await store.run_sync(store.events_page, topic, sent, latest)
            if not page:
                return False

    async def _resume_state(self, topic, since):
        """store.resume_state in a worker thread; subscribers without `since` arriving while
        one read of the topic's latest seq is in flight share it (a reconnect storm onto one
        topic reads once: their live events are buffered from before that read ended)."""
        if since is None and topic in self.reading:
            shared = await asyncio.shield(self.reading[topic])
            # That read may have ended before this subscriber joined the topic's local set:
            # an event delivered meanwhile is in topic_last, and is "before" this subscribe.
            return max(shared, self.topic_last.get(topic) or 0), None
        future = None
        if since is None:
            future = self.reading[topic] = asyncio.get_running_loop().create_future()
        try:
            latest, replay = await store.run_sync(store.resume_state, topic, since)
        except BaseException as exc:
            if future is not None:
                future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
                future.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        finally:
            if future is not None and self.reading.get(topic) is future:
                del self.reading[topic]
        if future is not None:
            future.set_result(latest)
        return latest, replay

    def finish_subscribe(self, conn, topic):
        """After the subscribe reply is sent: delivers the buffered live events."""
        sub = conn.subs.get(topic)
        if sub is not None:
            self._drain(conn, sub)

    async def unsubscribe(self, conn, topic):
        sub = conn.subs.pop(topic, None)
        if sub is None:
            return False
        metrics.SUBSCRIPTIONS.dec()
        local = self.topics.get(topic, {})
        local.pop(conn.id, None)
        if not local:
            self.topics.pop(topic, None)
            self.topic_last.pop(topic, None)
            self.pending.pop(topic, None)
            await self._group_discard(topic_group(topic))
        if sub.presence and conn.user_info:
            await self.presence.unsubscribed(conn, topic)
        return True

    async def _group_add(self, group):
        async with self.group_lock:
            await self.layer.group_add(group, self.channel)
        metrics.TOPICS.set(len(self.topics))

    async def _group_discard(self, group):
        async with self.group_lock:
            await self.layer.group_discard(group, self.channel)
        metrics.TOPICS.set(len(self.topics))

    # --- incoming events ---------------------------------------------------------
    async def _receive_loop(self):
        while True:
            try:
                message = await self.layer.receive(self.channel)
                kind = message.get("type")
                if kind == "rt.events":
                    now = time.time()
                    for event in message["events"]:
                        metrics.DELIVERY_SECONDS.observe(max(0.0, now - event.get("ts", now)))
                        self._topic_event(event)
                elif kind == "rt.close_user":
                    for conn in list(self.users.get(message["user_id"], {}).values()):
                        conn.close(message.get("code", CloseCode.UNAUTHORIZED))
                elif kind == "rt.push":
                    conn = self.connections.get(message["connection_id"])
                    if conn is not None:
                        conn.send_frame(message["frame"])
                elif kind == "rt.rights_changed":
                    session_auth.rights_changed(self, message["user_id"], message.get("gone") or ())
                elif kind == "rt.kick":
                    for conn in list(self.users.get(message["user_id"], {}).values()):
                        self.authorizer.revoke(conn)
                        if message["topic"] in conn.subs:
                            await self._revoke(conn, message["topic"])
                elif kind == "rt.reauthorize":
                    self.authorizer.topic_changed(message["topic"])
                    asyncio.ensure_future(self._reauthorize(message["topic"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("hub receive loop error")
                await asyncio.sleep(0.1)

    async def _revoke(self, conn, topic):
        await self.unsubscribe(conn, topic)
        conn.send_frame(direct_frame(topic, "subscription.revoked", {}))

    async def _reauthorize(self, topic):
        """Asks the topic's authorize hook again for every local subscriber (the topic's
        rules changed, e.g. a feed or room became private); revokes those now refused."""
        for conn in list(self.topics.get(topic, {}).values()):
            self.authorizer.revoke(conn)
            await self.recheck_subscription(conn, topic)

    async def recheck_subscription(self, conn, topic):
        """Asks topic's authorize hook again for conn's current user; revokes the
        subscription when now refused (a topic's rules or the user's rights changed)."""
        kind, key = topic.split(":", 1)
        try:
            await self.authorizer.check(conn, topic, kind, key, "read", fresh=True)
        except Exception as exc:
            if getattr(exc, "code", None) in ("forbidden", "not_found") and topic in conn.subs:
                await self._revoke(conn, topic)
            elif getattr(exc, "code", None) not in ("forbidden", "not_found"):
                logger.warning("reauthorizing %s for %s failed: %s", topic, conn.id, exc)
