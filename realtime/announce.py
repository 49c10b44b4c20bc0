"""Presence announcements, coalesced per topic.

A join or a leave used to be one event each.  When a room of N people reconnects at once
(a deploy, a network blip), every one of the N joins went to every subscriber: N² frames.
A storm of 1,000 users onto one room ran at ~130 connects/s and sent ~500,000 presence
frames.  Now a process gathers a topic's changes for REALTIME_PRESENCE_BATCH_SECONDS and
sends at most one `presence.leave` and one `presence.join`, each listing its users; for
the room above, a few dozen events instead of a thousand.

Per user only the latest change of the window counts (left and came back: a join), and at
the window's end it is checked against Redis: a leave of a user present again (a reconnect
landed on another process meanwhile) or a join of one gone again is dropped.  Processes'
windows end independently, so without that check a late leave from one process could
follow another's join and leave a present user out of every list.

Above REALTIME_PRESENCE_LIST_MAX present users (counted in the same round trip as that
check) the window's changes go out as one `presence.diff` {count, joined, left} instead:
clients of a crowd show the count and page the list on demand (realtime/hub_presence.py),
so neither a reply nor an event carries the whole list.  Below it, join and leave carry
the count too.

Events are set operations for the client: a join may name users it already lists, a leave
users it does not.  A join of one user is not sent to the connection that joined (it has
the list from its subscribe reply); a join of several reaches the joiners too, naming
themselves, since each needs the others who came after its reply.
"""

import asyncio
import logging

from django.conf import settings

from realtime import webhooks

logger = logging.getLogger("realtime.announce")

JOIN, LEAVE, DIFF = "presence.join", "presence.leave", "presence.diff"


class PresenceAnnouncer:
    """One per hub.  `send(topic, event, data, exclude)` is the hub's ephemeral publish
    (`exclude`: a connection id not to send it to); `present(topic, user_ids)` asks Redis
    who is there and how many are: ({id: bool}, count), realtime.presence.present_and_count."""

    def __init__(self, send, present):
        self.send, self.present = send, present
        self.pending = {}  # topic -> {user id: (event, user info, connection id)}
        self.tasks = set()

    def change(self, topic, event, user, connection_id=None):
        """Queues `event` (JOIN or LEAVE) of `user` ({id, username, display_name}) on topic;
        `connection_id`: the connection whose join it is."""
        changes = self.pending.get(topic)
        if changes is None:
            changes = self.pending[topic] = {}
            task = asyncio.ensure_future(self._flush_later(topic))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        changes[user["id"]] = (event, user, connection_id)  # a user's latest change counts

    async def _flush_later(self, topic):
        await asyncio.sleep(settings.REALTIME_PRESENCE_BATCH_SECONDS)
        await self.flush(topic)

    async def flush(self, topic):
        """Sends what is queued for topic now (the window's end; tests)."""
        changes = self.pending.pop(topic, None) or {}
        if not changes:
            return
        try:
            present, count = await self.present(topic, list(changes))
        except Exception as exc:  # Redis unreachable: announce what was seen
            logger.warning("presence of %s not checked before announcing: %s", topic, exc)
            present = {user_id: kind == JOIN for user_id, (kind, _, _) in changes.items()}
            count = None
        picked = {}
        for event in (LEAVE, JOIN):
            picked[event] = sorted(((user, conn) for user_id, (kind, user, conn) in changes.items()
                                    if kind == event and present.get(user_id) == (event == JOIN)),
                                   key=lambda pair: pair[0]["id"])
        if count is not None and count > settings.REALTIME_PRESENCE_LIST_MAX:
            await self._send_diff(topic, count, picked)
            return
        for event in (LEAVE, JOIN):
            if picked[event]:
                exclude = picked[event][0][1] if len(picked[event]) == 1 else None
                users = [user for user, _ in picked[event]]
                data = {"users": users} if count is None else {"users": users, "count": count}
                await self.send(topic, event, data, exclude)
                await webhooks.apresence(topic, event, users)  # only when an endpoint wants it

    async def _send_diff(self, topic, count, picked):
        """A crowd's window: one presence.diff (not to a lone joiner, who has the count)."""
        joined = [user for user, _ in picked[JOIN]]
        left = [user for user, _ in picked[LEAVE]]
        if not joined and not left:
            return
        exclude = picked[JOIN][0][1] if len(joined) == 1 and not left else None
        await self.send(topic, DIFF, {"count": count, "joined": joined, "left": left}, exclude)
        for event, users in ((LEAVE, left), (JOIN, joined)):
            if users:
                await webhooks.apresence(topic, event, users)

    def stop(self):
        """Drops what is queued (the process is going: other processes' lease sweeps
        announce its users' leaves)."""
        for task in list(self.tasks):
            task.cancel()
        self.pending.clear()
