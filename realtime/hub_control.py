"""The hub's receiving side of server-to-server control (realtime/control.py sends):
closing a user's sockets, a push to one connection, a change to a user's rights, a kick
from a topic, a topic's rules changed.  Composed into the Hub as `hub.control`."""

import asyncio
import logging

from realtime import session_auth
from realtime.close_codes import CloseCode
from realtime.publish import direct_frame

logger = logging.getLogger("realtime.hub")

# The error codes of an authorize hook that mean "no longer allowed" (else it failed).
REFUSALS = ("forbidden", "not_found")


class HubControl:
    """One per hub: acts on the control messages its receive loop gets."""

    def __init__(self, hub):
        self.hub = hub

    async def handle(self, message):
        """Called by the hub's receive loop for every message but rt.events."""
        hub, kind = self.hub, message.get("type")
        if kind == "rt.close_user":
            for conn in list(hub.users.get(message["user_id"], {}).values()):
                conn.close(message.get("code", CloseCode.UNAUTHORIZED))
        elif kind == "rt.push":
            conn = hub.connections.get(message["connection_id"])
            if conn is not None:
                conn.send_frame(message["frame"])
        elif kind == "rt.rights_changed":
            session_auth.rights_changed(hub, message["user_id"], message.get("gone") or ())
        elif kind == "rt.kick":
            for conn in list(hub.users.get(message["user_id"], {}).values()):
                hub.authorizer.revoke(conn)
                if message["topic"] in conn.subs:
                    await self.revoke(conn, message["topic"])
        elif kind == "rt.reauthorize":
            hub.authorizer.topic_changed(message["topic"])
            asyncio.ensure_future(self.reauthorize(message["topic"]))

    async def revoke(self, conn, topic):
        """Ends conn's subscription to topic and tells the client so."""
        await self.hub.unsubscribe(conn, topic)
        conn.send_frame(direct_frame(topic, "subscription.revoked", {}))

    async def reauthorize(self, topic):
        """Asks the topic's authorize hook again for every local subscriber (the topic's
        rules changed, e.g. a feed or room became private); revokes those now refused."""
        state = self.hub.topics.get(topic)
        for conn in list(state.conns.values()) if state is not None else ():
            self.hub.authorizer.revoke(conn)
            await self.recheck_subscription(conn, topic)

    async def recheck_subscription(self, conn, topic):
        """Asks topic's authorize hook again for conn's current user; revokes the
        subscription when now refused (a topic's rules or the user's rights changed)."""
        kind, key = topic.split(":", 1)
        try:
            await self.hub.authorizer.check(conn, topic, kind, key, "read", fresh=True)
        except Exception as exc:
            refused = getattr(exc, "code", None) in REFUSALS
            if refused and topic in conn.subs:
                await self.revoke(conn, topic)
            elif not refused:
                logger.warning("reauthorizing %s for %s failed: %s", topic, conn.id, exc)
