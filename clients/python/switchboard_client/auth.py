"""Renewing a connection's identity before it expires (a mixin of `Client`).

The server limits how long a socket's authentication lasts (REALTIME_AUTH_MAX_AGE, 3600 s by
default) and tells the time left as `auth_expires_in` (seconds) in every `ping` reply and in
the `auth.refresh` reply.  When REFRESH_SHARE of that time is left (at least `refresh_margin`
seconds, REFRESH_MARGIN by default) the client fetches a new ticket over REST and sends
`{"action": "auth.refresh", "data": {"ticket": ...}}`: same socket, subscriptions and seqs.
A server that announces nothing (older servers, anonymous sockets) gets no refresh, and one
that answers `unknown_action` is not asked again on that socket.  Should every refresh fail,
the server sends `auth.expired` and closes 4401, and the client reconnects with a new ticket.
"""

import asyncio
import logging

from switchboard_client import errors, options

logger = logging.getLogger("switchboard_client")


class RefreshMixin:
    def _init_refresh(self):
        self.auth_expires_in = None  # the latest announcement, in seconds
        self.refreshes = 0  # successful auth.refresh calls
        self._refresh_task = None

    def _auth_announced(self, expires_in):
        """Called with each ping or refresh reply's `auth_expires_in`: (re)plans the refresh."""
        if isinstance(expires_in, bool) or not isinstance(expires_in, (int, float)):
            return  # not announced: nothing expires, or an older server
        self.auth_expires_in = float(expires_in)
        if not self.auth_refresh or (self.token is None and self._ticket_source is None):
            return  # turned off, or anonymous: nothing to renew
        lead = max(self.refresh_margin, expires_in * options.REFRESH_SHARE)
        self._cancel_refresh()
        self._refresh_task = self._spawn(self._refresh(self._ws, max(0.0, expires_in - lead)))

    def _cancel_refresh(self):
        task, self._refresh_task = self._refresh_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _refresh(self, ws, delay):
        await asyncio.sleep(delay)
        while ws is not None and ws is self._ws:
            try:
                reply = await self.request("auth.refresh", data={"ticket": await self._ticket()})
            except errors.UnknownAction:
                logger.info("switchboard: the server does not offer auth.refresh")
                return
            except errors.ClientClosed:
                return
            except errors.ProtocolError as exc:
                if exc.status in (401, 403):  # the token itself was refused: 4401 follows
                    logger.warning("switchboard: no ticket for auth.refresh: %s", exc)
                    return
                logger.warning("switchboard: auth.refresh failed (%s); trying again", exc)
                await asyncio.sleep(options.REFRESH_RETRY)
                continue
            self.refreshes += 1
            if ws is self._ws:
                self._auth_announced(reply.get("auth_expires_in"))
            return
