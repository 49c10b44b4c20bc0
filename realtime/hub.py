"""The per-process hub: one channel-layer subscription per topic, in-process fan-out.

A process subscribes its one hub channel to a topic's group when its first local
connection subscribes, and leaves when its last one goes, so Redis delivers each event
once per process however many of its sockets follow the topic, and the frame serialised
by publish() is forwarded as is.  The pub/sub subscription dies with the process's Redis
connection, so a killed process leaves no member behind (the "lease" of a membership is
the live connection itself, refreshed by Redis's own keepalive).

What the hub knows of each followed topic is one TopicState (realtime/topic_state.py) in
`self.topics`.  The hub owns its parts: `ordering` (seq order, gaps read from the outbox;
realtime/ordering.py), `maintenance` (heartbeats, the outbox poll that recovers lost
broadcasts, shutdown; realtime/maintenance.py), `presence` (joins, leaves, announcements;
realtime/hub_presence.py), `control` (control messages from other processes;
realtime/hub_control.py) and `authorizer` (topic authorization and its caches;
realtime/authorizer.py); a subscribe's shared reads and paged replay are realtime/resume.py.
"""

import asyncio
import logging
import os
import secrets
import socket
import time
import weakref

from channels.layers import get_channel_layer

from realtime import metrics, session_auth
from realtime.authorizer import Authorizer
from realtime.close_codes import CloseCode
from realtime.connlog import ConnectionLog
from realtime.hub_control import HubControl
from realtime.hub_presence import HubPresence
from realtime.maintenance import Maintenance
from realtime.ordering import Ordering
from realtime.registry import topic_group, topic_kinds
from realtime.resume import replay as replay_missed
from realtime.resume import resume_state
from realtime.subscriptions import Subscription
from realtime.topic_state import TopicState

logger = logging.getLogger("realtime.hub")

_hubs = weakref.WeakKeyDictionary()


def instance_group(instance):
    return "c.proc." + instance


# Every hub listens here, for control messages about a topic wherever it is followed.
ALL_GROUP = "c.all"
# Seconds stop() waits for its cancelled tasks before cancelling the stragglers again: a
# cancelled loop ends within a turn or two, so one second only matters for a lost cancel.
STOP_RECANCEL_SECONDS = 1.0
# Seconds the receive loop pauses after an error: a failing layer (Redis restarting) is
# retried a few times a second rather than in a tight loop that floods the log.
RECEIVE_ERROR_PAUSE_SECONDS = 0.1


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


class Hub:
    """One per event loop (get_hub): the process's connections and the topics they follow."""

    def __init__(self):
        self.instance = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self.layer = get_channel_layer()
        self.channel = None
        self.connections = {}  # id -> LocalConnection
        self.topics = {}  # topic -> TopicState, while a local connection follows it
        self.users = {}  # user id -> {connection id: LocalConnection}
        self.tasks = []
        self.user_changed = {}  # user id -> monotonic time of their last rights change
        self.rechecking = {}  # user id -> re-check of their sockets in flight (session_auth)
        self.group_lock = asyncio.Lock()
        self.started = asyncio.Event()
        self.connlog = ConnectionLog()
        self.authorizer = Authorizer()
        self.presence = HubPresence()
        self.ordering = Ordering(self)
        self.maintenance = Maintenance(self)
        self.control = HubControl(self)

    async def start(self):
        self.channel = await self.layer.new_channel("hub.")
        await self.layer.group_add(instance_group(self.instance), self.channel)
        await self.layer.group_add(ALL_GROUP, self.channel)
        await self.maintenance.renew_instance_lease()
        self.maintenance.chain_shutdown_signals()
        self.tasks = [asyncio.ensure_future(self._receive_loop()),
                      asyncio.ensure_future(self.maintenance.heartbeat_loop()),
                      asyncio.ensure_future(self.maintenance.poll_loop()),
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
        window, page by page as the socket takes them (resume.replay); returns the reply data.
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
        state = self.topics.get(topic)
        if state is None:
            state = self.topics[topic] = TopicState(topic)
        state.conns[conn.id] = conn
        if len(state.conns) == 1:
            await self._group_add(topic_group(topic))
        known = state.last
        if (len(state.conns) > 1 and known is not None and not state.pending
                and not state.filling and since in (None, known)):
            # This process already follows the topic and is caught up, so its last seq is
            # the topic's as far as any broadcast has said (a newer one arrives live, a
            # lost one through the outbox poll): no database read for a subscribe storm.
            latest, replay = known, (None if since is None else [])
        else:
            try:
                latest, replay = await resume_state(state, since)
            except BaseException:
                await self.unsubscribe(conn, topic)
                raise
        if state.last is None or state.last < latest:
            state.last = latest
        recovered = replay is not None
        if replay:
            try:
                recovered = await replay_missed(conn, sub, since, latest, replay)
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
            latest = max(latest, state.last or 0)
            sub.last, sub.buffer, sub.buffered_bytes, sub.overflowed = latest, [], 0, False
            recovered = False
        return {"seq": latest, "recovered": recovered, **reply}

    def finish_subscribe(self, conn, topic):
        """After the subscribe reply is sent: delivers the buffered live events."""
        sub = conn.subs.get(topic)
        if sub is not None:
            self.ordering.drain(conn, sub)

    async def unsubscribe(self, conn, topic):
        sub = conn.subs.pop(topic, None)
        if sub is None:
            return False
        metrics.SUBSCRIPTIONS.dec()
        state = self.topics.get(topic)
        if state is not None:
            state.conns.pop(conn.id, None)
            if not state.conns:
                del self.topics[topic]
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
                        self.ordering.event(event)
                else:
                    await self.control.handle(message)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("hub receive loop error")
                await asyncio.sleep(RECEIVE_ERROR_PAUSE_SECONDS)
