"""The per-process hub: one channel-layer subscription per topic, in-process fan-out.

A process subscribes its one hub channel to a topic's group when its first local
connection subscribes, and leaves when its last one goes, so Redis delivers each event
once per process however many of its sockets follow the topic, and the frame serialised
by publish() is forwarded as is.  The pub/sub subscription dies with the process's Redis
connection, so a killed process leaves no member behind (the "lease" of a membership is
the live connection itself, refreshed by Redis's own keepalive).

Per topic the hub keeps events in seq order: one that arrives ahead of a missing one waits
REALTIME_GAP_WAIT for it, then the gap is read from the outbox.  Every
REALTIME_OUTBOX_POLL_INTERVAL it also compares its topics with the outbox, so a broadcast
lost anywhere (Redis restart, a publisher killed after commit) still arrives.
"""

import asyncio
import logging
import os
import secrets
import signal
import socket
import threading
import time
import weakref

from channels.layers import get_channel_layer
from django.conf import settings

from realtime import metrics, presence, store
from realtime.connlog import ConnectionLog
from realtime.publish import apublish, direct_frame
from realtime.publish import frame as make_frame
from realtime.registry import topic_group, topic_kinds
from realtime.subscriptions import Subscription

logger = logging.getLogger("realtime.hub")

_hubs = weakref.WeakKeyDictionary()
# Seconds between sending every socket its 1001 close and letting the server stop.
SHUTDOWN_FLUSH_SECONDS = 0.3


def instance_group(instance):
    return "c.proc." + instance


# Every hub listens here, for control messages about a topic wherever it is followed.
ALL_GROUP = "c.all"


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
        self.group_lock = asyncio.Lock()
        self.started = asyncio.Event()
        self.connlog = ConnectionLog()

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

    def _chain_shutdown_signals(self):
        """On SIGTERM/SIGINT close every socket with 1001 (clients reconnect to another
        process and resume) before the server's own handler stops it: daphne would
        otherwise drop the TCP connections without a close frame."""
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(signum)
            if not callable(previous) or getattr(previous, "_switchboard", False):
                continue

            def handler(num, frame, previous=previous):
                def close_all():
                    for conn in list(self.connections.values()):
                        conn.close(1001)
                    # Give the writers a moment to flush the close frames, then stop.
                    loop.call_later(SHUTDOWN_FLUSH_SECONDS, previous, num, frame)

                loop.call_soon_threadsafe(close_all)

            handler._switchboard = True
            signal.signal(signum, handler)

    async def stop(self):
        try:
            await self.connlog.flush_now()
        except Exception:
            logger.warning("connection log not flushed at stop")
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for conn in list(self.connections.values()):
            conn.close(1001)

    # --- connections and subscriptions -------------------------------------------
    async def add_connection(self, conn):
        self.connections[conn.id] = conn
        if conn.user_id is not None:
            local = self.users.setdefault(conn.user_id, {})
            local[conn.id] = conn
            if len(local) == 1:
                await self._group_add(user_group(conn.user_id))

    async def remove_connection(self, conn):
        for topic in list(conn.subs):
            await self.unsubscribe(conn, topic)
        self.connections.pop(conn.id, None)
        if conn.user_id is not None:
            local = self.users.get(conn.user_id, {})
            local.pop(conn.id, None)
            if not local:
                self.users.pop(conn.user_id, None)
                await self._group_discard(user_group(conn.user_id))

    async def subscribe(self, conn, topic, since):
        """Joins conn to topic; replays what it missed since `since` when still in the
        window; returns the reply data.  Live events arriving meanwhile are buffered."""
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
        try:
            latest, replay = await store.run_sync(store.resume_state, topic, since)
        except BaseException:
            await self.unsubscribe(conn, topic)
            raise
        if self.topic_last.get(topic) is None or self.topic_last[topic] < latest:
            self.topic_last[topic] = latest
        recovered = replay is not None
        for seq, event, data in replay or ():
            conn.send_frame(make_frame(topic, event, seq, data))
        sub.last = latest
        kind = topic_kinds[topic.split(":", 1)[0]]
        members = []
        if kind.presence:
            sub.presence = True
            try:
                if conn.user_info and not resubscribe:
                    if await presence.join(topic, conn.user_info, conn.id):
                        # The joiner learns the list from the reply, not from its own join.
                        await self._announce(topic, "presence.join", {"user": conn.user_info},
                                             exclude=conn.id)
                members = await presence.members(topic)
            except BaseException:
                # Redis down: undo, or the half-made subscription buffers events forever.
                await self.unsubscribe(conn, topic)
                raise
        return {"seq": latest, "recovered": recovered, "presence": members}

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
            try:
                if await presence.leave(topic, conn.user_id, conn.id):
                    await self._announce(topic, "presence.leave", {"user": conn.user_info})
            except Exception:
                # Redis down: the lease expires on its own and a sweep announces the leave.
                logger.warning("presence leave failed for %s on %s", conn.id, topic)
        return True

    async def _announce(self, topic, event, data, exclude=None):
        """Sends a presence event; a failed send (Redis restarting: the layer's first send
        on a connection Redis dropped fails) is logged and never fails the caller."""
        try:
            await apublish(topic, event, data, ephemeral=True, exclude_connection=exclude)
        except Exception as exc:
            logger.warning("could not announce %s on %s: %s", event, topic, exc)

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
                        conn.close(message.get("code", 4401))
                elif kind == "rt.push":
                    conn = self.connections.get(message["connection_id"])
                    if conn is not None:
                        conn.send_frame(message["frame"])
                elif kind == "rt.kick":
                    for conn in list(self.users.get(message["user_id"], {}).values()):
                        conn.authz.clear()
                        if message["topic"] in conn.subs:
                            await self._revoke(conn, message["topic"])
                elif kind == "rt.reauthorize":
                    asyncio.ensure_future(self._reauthorize(message["topic"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("hub receive loop error")
                await asyncio.sleep(0.1)

    def _topic_event(self, message):
        topic, seq = message["topic"], message["seq"]
        local = self.topics.get(topic)
        if not local:
            return
        if seq is None:  # ephemeral: no order to keep, nothing to replay
            exclude = message.get("exclude")
            for conn in list(local.values()):
                if conn.id != exclude:
                    conn.send_frame(message["frame"])
            metrics.FRAMES_OUT.labels(message.get("event", "")).inc(len(local))
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

    async def _revoke(self, conn, topic):
        await self.unsubscribe(conn, topic)
        conn.send_frame(direct_frame(topic, "subscription.revoked", {}))

    async def _reauthorize(self, topic):
        """Asks the topic's authorize hook again for every local subscriber (the topic's
        rules changed, e.g. a feed or room became private); revokes those now refused."""
        for conn in list(self.topics.get(topic, {}).values()):
            conn.authz.clear()
            kind, key = topic.split(":", 1)
            try:
                await conn.authorize(topic, kind, key, "read", fresh=True)
            except Exception as exc:
                if getattr(exc, "code", None) in ("forbidden", "not_found") and topic in conn.subs:
                    await self._revoke(conn, topic)
                elif getattr(exc, "code", None) not in ("forbidden", "not_found"):
                    logger.warning("reauthorizing %s for %s failed: %s", topic, conn.id, exc)

    def _deliver(self, topic, message):
        seq, payload, exclude = message["seq"], message["frame"], message.get("exclude")
        self.topic_last[topic] = seq
        local = self.topics.get(topic, {})
        metrics.FRAMES_OUT.labels(message.get("event", "")).inc(len(local))
        for conn in list(local.values()):
            sub = conn.subs.get(topic)
            if sub is not None and sub.offer(conn, seq, payload, exclude):
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

    # --- timers ------------------------------------------------------------------
    async def _heartbeat_loop(self):
        """Renews presence leases and this instance's lease; sweeps dead users; closes
        connections silent longer than REALTIME_IDLE_TIMEOUT."""
        interval = settings.REALTIME_HEARTBEAT_INTERVAL
        tick = min(interval, max(0.5, settings.REALTIME_IDLE_TIMEOUT / 4))
        last_beat = 0.0
        while True:
            await asyncio.sleep(tick)
            try:
                now = time.monotonic()
                for conn in list(self.connections.values()):
                    if now - conn.last_frame_at > settings.REALTIME_IDLE_TIMEOUT:
                        conn.close(4408)
                if now - last_beat >= interval * 0.95:
                    last_beat = now
                    await self._beat()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("hub heartbeat failed")

    async def _beat(self):
        entries = [(topic, conn.user_id, conn.id, conn.user_info)
                   for topic, local in self.topics.items()
                   for conn in local.values()
                   if conn.user_id is not None and conn.subs.get(topic) and conn.subs[topic].presence]
        await presence.refresh(entries)
        await self._renew_instance_lease()
        for topic in list(self.topics):
            if topic_kinds[topic.split(":", 1)[0]].presence:
                for info in await presence.sweep(topic):
                    await self._announce(topic, "presence.leave", {"user": info})

    async def _renew_instance_lease(self):
        """Tells the connection sweep this process is alive (see realtime.tasks)."""
        from realtime.redis import async_client

        # px: the setting is a float; ex=int() made 0.5 an invalid expiry (no hub starts).
        await async_client().set(f"sb:inst:{self.instance}", len(self.connections),
                                 px=int(settings.REALTIME_CONNECTION_STALE_AFTER * 1000))

    async def _poll_loop(self):
        """Assume any broadcast can be lost: compare with the outbox and fill gaps."""
        while True:
            await asyncio.sleep(settings.REALTIME_OUTBOX_POLL_INTERVAL)
            topics = [t for t in self.topics if t not in self.filling]
            if not topics:
                continue
            try:
                latest = await store.run_sync(store.latest_seqs, topics)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("outbox poll failed: %s", exc)
                continue
            for topic, seq in latest.items():
                if topic in self.topics and seq > (self.topic_last.get(topic) or 0) \
                        and topic not in self.filling:
                    self.filling.add(topic)
                    asyncio.ensure_future(self._fill_gap(topic))
