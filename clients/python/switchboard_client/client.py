"""The asyncio client: one WebSocket to `/ws/`, reconnected for as long as the client lives.

    async with Client("https://switchboard.example.com", token=TOKEN) as client:
        reply = await client.request("chat.send", "room:lobby", {"body": "hi", "client_id": "c-1"})
        async for item in client.subscribe("room:lobby"):
            ...

What it guarantees (the browser client's behaviour, static/realtime/client.js):
- a fresh ticket (`POST /api/auth/ticket/`, single use) before every connect;
- `request()` settles with the reply of its own request id or raises the typed error;
  requests made while disconnected wait (within their timeout) and are sent after every
  subscription has been resumed;
- subscriptions resume with `since` after a reconnect: each durable event once, in order;
  a lost history is yielded as a `Gap`;
- reconnects with exponential backoff and jitter; 4401 gets a new ticket at once, 4429
  waits FLOOD_BACKOFF; a ping every PING_INTERVAL also detects half-open sockets;
- the socket's identity is renewed in place (auth.refresh) before it expires when the
  server announces `auth_expires_in` (in ping replies), and never when it does not;
- close() ends everything (close 1000); a refused token (401/403) stops the client and is
  raised by every pending and later call.
"""

import asyncio
import contextlib
import inspect
import itertools
import logging
import random
from urllib.parse import quote

from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidHandshake, InvalidStatus

from switchboard_client import errors, options
from switchboard_client.auth import RefreshMixin
from switchboard_client.calls import CallsMixin
from switchboard_client.dispatch import DispatchMixin
from switchboard_client.tickets import endpoints, fetch_ticket

logger = logging.getLogger("switchboard_client")
# A REST answer that no retry will change: the token is bad or revoked.
FINAL_AUTH_CODES = ("unauthenticated", "forbidden")


class Client(CallsMixin, DispatchMixin, RefreshMixin):
    """A Switchboard connection.  `token`: a REST API token (a ticket is fetched with it
    before every connect); or `get_ticket`: a callable (sync or async) returning a ticket;
    neither: an anonymous connection (public topics, read-only), sent with the site's own
    Origin since the server takes a handshake without ticket only from its own pages.

    `on_state(state, info)` is called on "connecting", "connected", "reconnecting" (info:
    close_code, retry_in seconds, attempt) and "closed"; `state`, `close_code` (of the
    last socket) and `connects` (sockets opened so far) are readable attributes."""

    def __init__(self, url, *, token=None, get_ticket=None, on_state=None, ssl=None,
                 request_timeout=options.REQUEST_TIMEOUT, ping_interval=None,
                 ping_timeout=options.PING_TIMEOUT, open_timeout=options.OPEN_TIMEOUT,
                 backoff_base=options.BACKOFF_BASE, backoff_max=options.BACKOFF_MAX,
                 flood_backoff=options.FLOOD_BACKOFF, stable_after=options.STABLE_AFTER,
                 auth_refresh=True, refresh_margin=options.REFRESH_MARGIN,
                 ws_path="/ws/", ticket_path="/api/auth/ticket/"):
        self.base_url, self.ticket_url, self.ws_url = endpoints(url, ws_path, ticket_path)
        self.token, self._ticket_source, self.on_state, self.ssl = token, get_ticket, on_state, ssl
        self.request_timeout, self.ping_timeout = request_timeout, ping_timeout
        self.open_timeout = open_timeout
        self.ping_interval = options.PING_INTERVAL if ping_interval is None else ping_interval
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self.flood_backoff, self.stable_after = flood_backoff, stable_after
        self.state, self.close_code, self.connects = "idle", None, 0
        self._ids = itertools.count(1)
        self._pending = {}  # request id -> _Pending, in creation order
        self._subs = {}  # topic -> Subscription
        self._tasks = set()
        self._ws = None
        self._ready = False  # the socket is open and every subscription was resent
        self._closing = False
        self._failure = None  # the final error that stopped the client
        self._attempt = 0
        self._unauthorized_streak = 0
        self._auth_expired = False
        self._runner = None
        self._connected = None
        self._wake = None
        self.auth_refresh = auth_refresh  # False: let the identity expire, then reconnect
        self.refresh_margin = refresh_margin  # renew at least this many seconds before expiry
        self._init_refresh()

    # --- lifecycle -------------------------------------------------------------------
    async def connect(self, timeout=options.FIRST_CONNECT_TIMEOUT):
        """Starts the connection loop and waits for the first connection; raises the
        final error (e.g. Unauthenticated for a bad token) or Unavailable after timeout."""
        if self._runner is not None:
            raise RuntimeError("connect() was already called")
        self._connected, self._wake = asyncio.Event(), asyncio.Event()
        self._runner = asyncio.create_task(self._run())
        waiter = asyncio.create_task(self._connected.wait())
        done, _ = await asyncio.wait({waiter, self._runner}, timeout=timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if self._failure is not None:
            raise self._failure
        if not done:
            await self.close()
            raise errors.Unavailable(f"could not connect to {self.ws_url} within {timeout} s")
        return self

    async def close(self):
        """Closes the socket with 1000 and stops reconnecting; pending requests raise
        ClientClosed and subscriptions end.  Idempotent."""
        self._closing = True
        if self._wake is not None:
            self._wake.set()
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close(options.CLOSE_NORMAL)
        if self._runner is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._runner, options.CLOSE_TIMEOUT + 1)
        self._shutdown(errors.ClientClosed("The client was closed."), end_subscriptions=True)
        for task in list(self._tasks):
            task.cancel()
        self._set_state("closed")

    async def __aenter__(self):
        return await self.connect()

    async def __aexit__(self, *exc):
        await self.close()

    def _set_state(self, state, **info):
        if state == self.state and state != "reconnecting":
            return
        self.state = state
        if self.on_state is not None:
            try:
                self.on_state(state, info)
            except Exception:
                logger.exception("on_state callback failed")

    def _fail(self, exc):
        """A final error (the token was refused): stop, and raise it everywhere."""
        logger.error("switchboard client stopped: %s", exc)
        self._failure, self._closing = exc, True
        self._shutdown(exc, end_subscriptions=False)
        self._set_state("closed", error=exc)

    def _shutdown(self, exc, end_subscriptions):
        for pending in list(self._pending.values()):
            if not pending.future.done():
                pending.future.set_exception(exc)
        for sub in list(self._subs.values()):
            sub._finish(None if end_subscriptions else exc)

    def _spawn(self, coro):
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- the connection loop -----------------------------------------------------------
    async def _run(self):
        while not self._closing:
            minimum, code, immediate = 0.0, None, False
            self._set_state("connecting" if self.connects == 0 else "reconnecting")
            try:
                ws = await self._open()
            except errors.ProtocolError as exc:
                if exc.code in FINAL_AUTH_CODES:
                    return self._fail(exc)
                minimum = exc.retry_after or 0.0
                logger.warning("switchboard: could not connect: %s", exc)
            except (OSError, TimeoutError, InvalidHandshake) as exc:
                logger.warning("switchboard: could not connect: %s", exc)
            else:
                code = await self._session(ws)
                if code == options.CLOSE_UNAUTHORIZED:
                    # The ticket was refused, the identity expired (auth.expired came first)
                    # or the server ended the session: a new ticket at once, but only once
                    # in a row (4401s on sockets that never got a reply back off).
                    self._unauthorized_streak += 1
                    immediate = self._unauthorized_streak == 1 or self._auth_expired
                    self._auth_expired = False
                elif code == options.CLOSE_FLOOD:
                    minimum = self.flood_backoff
            if self._closing:
                break
            delay = 0.0 if immediate else self._backoff(minimum)
            self._set_state("reconnecting", close_code=code, retry_in=delay, attempt=self._attempt)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    def _backoff(self, minimum):
        exp = min(self.backoff_max, self.backoff_base * 2 ** self._attempt)
        self._attempt += 1
        return max(minimum, exp * (0.5 + random.random() * 0.5))

    async def _ticket(self):
        if self._ticket_source is not None:
            ticket = self._ticket_source()
            return await ticket if inspect.isawaitable(ticket) else ticket
        if self.token:
            return await fetch_ticket(self.ticket_url, self.token, timeout=self.open_timeout)
        return None

    async def _open(self):
        ticket = await self._ticket()
        url = self.ws_url + (f"?ticket={quote(ticket)}" if ticket else "")
        kwargs = {"ssl": self.ssl} if self.ssl is not None else {}
        try:
            return await ws_connect(url, origin=None if ticket else self.base_url,
                                    open_timeout=self.open_timeout, ping_interval=None,
                                    close_timeout=options.CLOSE_TIMEOUT,
                                    max_size=options.MAX_FRAME_BYTES, **kwargs)
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise errors.Forbidden(f"the server refused the WebSocket handshake (HTTP {status})",
                                       status=status) from None
            raise errors.Unavailable(f"WebSocket handshake answered HTTP {status}", status=status) from None

    async def _session(self, ws):
        """Runs one socket until it closes; returns its close code (1006: dropped)."""
        self._ws, self._ready = ws, False
        self.connects += 1
        self._set_state("connected")
        loop = asyncio.get_running_loop()
        stable = loop.call_later(self.stable_after, self._stable)
        reader = asyncio.create_task(self._read(ws))
        pinger = asyncio.create_task(self._ping_loop(ws))
        try:
            await self._resume(ws)
            await reader
        finally:
            self._ws, self._ready = None, False
            self._connected.clear()
            stable.cancel()
            pinger.cancel()
            reader.cancel()
            self._cancel_refresh()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(ws.close(), options.CLOSE_TIMEOUT + 1)
            self.close_code = code = ws.close_code if ws.close_code is not None else 1006
            for pending in list(self._pending.values()):
                if pending.sent and not pending.future.done():
                    if pending.retry:
                        pending.sent = False  # sent again after the reconnect
                    else:
                        pending.future.set_exception(errors.Disconnected(
                            f"The connection was lost (close code {code}) before {pending.action}'s reply."))
            for sub in self._subs.values():
                sub.syncing = False
        return code

    def _stable(self):
        self._attempt = 0
        self._unauthorized_streak = 0

    async def _resume(self, ws):
        """Resubscribes every topic (with since), then sends the requests queued while
        disconnected, so a script's writes land after it has caught up."""
        first = [self._start_subscribe(sub) for sub in list(self._subs.values())]
        for pending in first + list(self._pending.values()):
            await self._transmit(ws, pending)
        self._ready = True
        for pending in list(self._pending.values()):  # queued during the sends above
            await self._transmit(ws, pending)
        if ws is self._ws:
            self._connected.set()

    async def _ping_loop(self, ws):
        """Pings at once (the reply tells when this identity expires) and every ping_interval."""
        while ws is self._ws:
            try:
                reply = await self.request("ping", timeout=self.ping_timeout)
                if ws is self._ws:
                    self._auth_announced(reply.get("auth_expires_in"))
            except errors.RequestTimeout:
                logger.warning("switchboard: no pong within %s s; dropping the socket", self.ping_timeout)
                await ws.close(options.CLOSE_CLIENT_GIVES_UP, "ping timeout")
                return
            except errors.ProtocolError:
                pass
            await asyncio.sleep(self.ping_interval)
