"""Hub maintenance: heartbeats (presence and instance leases, idle sockets), the outbox
poll that recovers lost broadcasts, and closing sockets with 1001 on shutdown."""

import asyncio
import logging
import signal
import threading
import time

from django.conf import settings

from realtime import limits, presence, session_auth, store
from realtime.announce import LEAVE
from realtime.close_codes import CloseCode
from realtime.registry import topic_kinds

logger = logging.getLogger("realtime.hub")

# Seconds between sending every socket its 1001 close and letting the server stop.
SHUTDOWN_FLUSH_SECONDS = 0.3


class Maintenance:
    """One per hub (`hub.maintenance`): its timers and signal handling."""

    def __init__(self, hub):
        self.hub = hub

    def chain_shutdown_signals(self):
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
                    for conn in list(self.hub.connections.values()):
                        conn.close(CloseCode.GOING_AWAY)
                    # Give the writers a moment to flush the close frames, then stop.
                    loop.call_later(SHUTDOWN_FLUSH_SECONDS, previous, num, frame)

                loop.call_soon_threadsafe(close_all)

            handler._switchboard = True
            signal.signal(signum, handler)

    # --- timers ------------------------------------------------------------------
    async def heartbeat_loop(self):
        """Renews presence leases and this instance's lease; sweeps dead users; closes
        connections silent longer than REALTIME_IDLE_TIMEOUT, and those whose identity
        expired (REALTIME_AUTH_MAX_AGE without auth.refresh) — one sweep, no timer per socket."""
        interval = settings.REALTIME_HEARTBEAT_INTERVAL
        tick = min(interval, max(0.5, settings.REALTIME_IDLE_TIMEOUT / 4))
        last_beat = 0.0
        hub = self.hub
        while True:
            await asyncio.sleep(tick)
            try:
                now = time.monotonic()
                for conn in list(hub.connections.values()):
                    if now - conn.last_frame_at > settings.REALTIME_IDLE_TIMEOUT:
                        conn.close(CloseCode.IDLE)
                    elif conn.auth_expires is not None and now >= conn.auth_expires:
                        session_auth.expire(conn)
                session_auth.prune_changes(hub, now)
                if now - last_beat >= interval * 0.95:
                    last_beat = now
                    await self._beat()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("hub heartbeat failed")

    async def _beat(self):
        hub = self.hub
        entries = [(topic, conn.user_id, conn.id, conn.user_info)
                   for topic, state in hub.topics.items()
                   for conn in state.conns.values()
                   if conn.user_id is not None and conn.subs.get(topic) and conn.subs[topic].presence]
        await presence.refresh(entries)
        # Per-address socket counts (realtime.limits) heal like presence when a process dies.
        await limits.renew_leases([conn.scope["realtime_lease"] for conn in hub.connections.values()
                                   if conn.scope.get("realtime_lease") is not None])
        await self.renew_instance_lease()
        for topic in list(hub.topics):
            if topic_kinds[topic.split(":", 1)[0]].presence:
                for info in await presence.sweep(topic):
                    hub.presence.announcer.change(topic, LEAVE, info)

    async def renew_instance_lease(self):
        """Tells the connection sweep this process is alive (see realtime.tasks)."""
        from realtime.redis import async_client

        # px: the setting is a float; ex=int() made 0.5 an invalid expiry (no hub starts).
        await async_client().set(f"sb:inst:{self.hub.instance}", len(self.hub.connections),
                                 px=int(settings.REALTIME_CONNECTION_STALE_AFTER * 1000))

    async def poll_loop(self):
        """Assume any broadcast can be lost: compare with the outbox and fill gaps."""
        hub = self.hub
        while True:
            await asyncio.sleep(settings.REALTIME_OUTBOX_POLL_INTERVAL)
            topics = [topic for topic, state in hub.topics.items() if not state.filling]
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
                state = hub.topics.get(topic)
                if state is not None and seq > (state.last or 0):
                    hub.ordering.fill(state)
