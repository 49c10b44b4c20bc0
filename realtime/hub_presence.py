"""The hub's presence part: joining a subscriber to a topic's presence, its leave, and the
announcements (composed into the Hub as `hub.presence`; realtime/hub.py).

A subscribe reply lists the present users while at most REALTIME_PRESENCE_LIST_MAX are
present; above that it carries only `presence_count` (`presence` is null) and the client
pages the list with the `presence` action when it wants it.  Announcements follow the same
rule at the end of each window (realtime/announce.py): `presence.join` / `presence.leave`
below the cap, one `presence.diff` with the count above it.
"""

import logging

from django.conf import settings

from realtime import presence
from realtime.announce import DIFF, JOIN, LEAVE, PresenceAnnouncer
from realtime.publish import apublish

logger = logging.getLogger("realtime.hub")


class HubPresence:
    """One per hub.  `announcer` gathers the changes (the heartbeat's sweep adds to it)."""

    def __init__(self):
        self.announcer = PresenceAnnouncer(self.announce, presence.present_and_count)

    async def subscribed(self, conn, topic, resubscribe):
        """Called by Hub.subscribe for a topic with presence: joins conn's user (first
        subscribe of an authenticated connection) and returns the reply's presence fields
        ({"presence": [users] or None, "presence_count": n}).  Raises when Redis fails
        (the hub undoes the subscription)."""
        if conn.user_info and not resubscribe:
            first, count, members = await presence.join_and_list(topic, conn.user_info, conn.id)
            if first:
                self.announcer.change(topic, JOIN, conn.user_info, conn.id)
        else:
            count, members, _ = await presence.page(topic)
            if count > settings.REALTIME_PRESENCE_LIST_MAX:
                members = None
        return {"presence": members, "presence_count": count}

    async def unsubscribed(self, conn, topic):
        """Called by Hub.unsubscribe when conn's subscription had joined presence: removes
        the connection, and queues the user's leave when it was their last."""
        try:
            if await presence.leave(topic, conn.user_id, conn.id):
                self.announcer.change(topic, LEAVE, conn.user_info)
        except Exception:
            # Redis down: the lease expires on its own and a sweep announces the leave.
            logger.warning("presence leave failed for %s on %s", conn.id, topic)

    async def announce(self, topic, event, data, exclude=None):
        """Sends a presence event (the announcer's batches).  A leave skips the leaving
        users' own connections: one still subscribed proves its user present (a reconnect
        elsewhere can race the leave of the socket it replaced); so does a diff that only
        has leaves.  A failed send (Redis restarting) is logged, never raised."""
        leaving = None
        if event == LEAVE:
            leaving = [user["id"] for user in data["users"]]
        elif event == DIFF and not data["joined"]:
            leaving = [user["id"] for user in data["left"]]
        try:
            await apublish(topic, event, data, ephemeral=True, exclude_connection=exclude,
                           exclude_users=leaving)
        except Exception as exc:
            logger.warning("could not announce %s on %s: %s", event, topic, exc)

    def stop(self):
        self.announcer.stop()
