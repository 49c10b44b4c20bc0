"""The one WebSocket endpoint (/ws/): a lean ASGI app, one instance per connection.

Not a channels consumer: channels' dispatch hops to a thread before every message
(close_old_connections), the largest single cost of a broadcast.  Here the event loop
only parses, checks and routes; ORM work crosses to threads in realtime.store.run_sync.

Every frame passes the checks of realtime/frames.py in a fixed order before any handler
(size, rate limit, parse, authenticate, authorize the topic: the free ones first); topic
authorization and its caches are the hub's Authorizer (realtime/authorizer.py).  Frames of
one connection are checked one at a time and answered in request order; the handlers of
concurrent actions (chat.send) may overlap (realtime/inflight.py).  Outgoing frames wait
in a send queue bounded in bytes (realtime/send_queue.py).
"""

import asyncio
import logging
import time
import uuid

import orjson
from django.conf import settings

from realtime import errors, frames, metrics, session_auth, store
from realtime.auth import public_info, redeem_ticket, user_from_ticket
from realtime.client_address import client_address
from realtime.close_codes import CloseCode, close_message
from realtime.frames import Reply
from realtime.hub import get_hub
from realtime.inflight import InFlight
from realtime.limits import TokenBucket
from realtime.registry import actions
from realtime.send_queue import ClientGone, SendQueue

logger = logging.getLogger("realtime.consumer")


class RealtimeConsumer:
    """ASGI app for one WebSocket (realtime.endpoint starts it); also the hub's LocalConnection.

    Slotted, and the output queue exists only while frames wait: 10,000 idle sockets in a
    process are its largest memory (docs/performance.md)."""

    __slots__ = ("scope", "_send", "id", "user", "user_id", "user_info", "subs", "state",
                 "bucket", "last_frame_at", "out", "closing", "cleaned_up",
                 "close_code", "hub", "cred", "auth_expires", "started", "inflight")

    def __init__(self, scope, send):
        self.scope = scope
        self._send = send
        self.id = str(uuid.uuid4())
        self.user = None
        self.user_id = None
        self.user_info = None
        self.subs = {}
        self.state = {}
        self.bucket = TokenBucket()
        self.last_frame_at = time.monotonic()
        self.out = None  # a SendQueue while frames wait to be written
        self.closing = False
        self.cleaned_up = False
        self.close_code = None
        self.hub = None
        self.cred = None  # the credential it stands on (realtime.session_auth)
        self.auth_expires = None  # monotonic time its identity expires (None: anonymous)
        self.started = time.monotonic()
        self.inflight = None  # an InFlight once it has sent a concurrent action

    # --- lifecycle -----------------------------------------------------------------
    async def run(self, receive):
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        try:
            connected = await self.connect()
        except Exception:
            # Redis or the database failed during the handshake: refuse cleanly (the
            # client retries with backoff) instead of a 500 and a traceback per socket.
            logger.exception("connect failed")
            await self._send(close_message(CloseCode.SERVER_ERROR))
            connected = False
        if not connected:
            return
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.receive":
                    await self.on_frame(message.get("text"), message.get("bytes"))
                    # Not kept while the next receive waits: an idle socket held its last
                    # frame (the message dict and its text) for good.
                    message = None
                elif message["type"] == "websocket.disconnect":
                    self.close_code = self.close_code or message.get("code")
                    break
        except asyncio.CancelledError:
            # The server is shutting down (daphne cancels every application): tell the
            # client to go elsewhere (1001) rather than leaving it to time out.
            if not self.closing:
                self.closing = True
                self.close_code = int(CloseCode.GOING_AWAY)
                await asyncio.shield(self._send(close_message(CloseCode.GOING_AWAY)))
            raise
        finally:
            await asyncio.shield(self.cleanup())

    async def connect(self):
        ticket = self.scope.get("realtime_ticket")
        info = None
        if ticket:
            info = await redeem_ticket(ticket)
            if info is None:
                user = None
            elif info.get("legacy"):
                user = await store.run_sync(store.load_user, info["id"])
            else:
                user = user_from_ticket(info)  # no database read: the ticket carries it
            if user is None:
                await self._send({"type": "websocket.accept"})
                await self._send(close_message(CloseCode.UNAUTHORIZED))
                return False
        else:
            user = self.scope.get("user")
        if user is not None and getattr(user, "is_authenticated", False) and user.is_active:
            self.user, self.user_id = user, user.pk
            self.user_info = public_info(user)
            self.cred = session_auth.credential_from_ticket(info) if info else session_auth.COOKIE
            self.auth_expires = session_auth.expires_at(info)
        else:
            self.user = user
            # Anonymous sockets only read: a tighter rate (limits before work).
            self.bucket = TokenBucket(settings.REALTIME_ANONYMOUS_RATE_PER_SECOND,
                                      settings.REALTIME_ANONYMOUS_RATE_BURST)
        self.hub = await get_hub()
        agent = dict(self.scope.get("headers", [])).get(b"user-agent", b"").decode("latin-1")
        self.hub.connlog.opened(connection_id=self.id, user_id=self.user_id,
                                address=client_address(self.scope), user_agent=agent,
                                instance=self.hub.instance)
        await self._send({"type": "websocket.accept"})
        await self.hub.add_connection(self)
        metrics.CONNECTIONS.inc()
        return True

    async def cleanup(self):
        """Once per connection: leaves the hub and logs the close."""
        self.closing = True
        if self.cleaned_up:
            return
        self.cleaned_up = True
        if self.hub is not None:
            metrics.CONNECTIONS.dec()
            try:
                await self.hub.remove_connection(self)
            except Exception:
                logger.exception("hub cleanup failed for %s", self.id)
            self.hub.connlog.closed(self.id, self.close_code)

    # --- output ----------------------------------------------------------------------
    def send_frame(self, text):
        """Queues a text frame; a client that does not keep up is closed 4503."""
        if self.closing:
            return
        out = self.out
        if out is None:
            out = self.out = SendQueue(self, self._send)
        if not out.put(text):
            self.too_slow()

    def too_slow(self):
        """Called by the send queue when the client has not kept up: close 4503."""
        logger.warning("connection %s is not reading; closing it", self.id)
        self.abort(CloseCode.SLOW_CONSUMER)

    async def wait_written(self, low_water):
        """Called by a paged resume before it reads the next page: returns once at most
        `low_water` bytes wait for this client.  A client that takes no frame for the grace
        period is closed 4503; raises ClientGone when the socket is closed or closing."""
        out = self.out
        if out is not None and not await out.wait_written(low_water) and not self.closing:
            self.too_slow()
        if self.closing:
            raise ClientGone()

    def send_json(self, obj):
        self.send_frame(orjson.dumps(obj).decode())

    def close(self, code):
        """Closes after the frames already queued (a graceful close with `code`)."""
        code = int(code)  # a CloseCode: the ASGI message and the metric label take the int
        if not self.closing:
            metrics.CLOSES.labels(str(code)).inc()
            self.closing = True
            self.close_code = code
            if self.out is None:
                self.out = SendQueue(self, self._send)
            self.out.put_close(code)

    def abort(self, code):
        """Closes at once, dropping queued frames: the writer may be stuck in send() on a
        peer that does not read, so the close cannot wait behind it.  The server then
        sends the close and drops the transport after its close timeout."""
        if self.closing:
            return
        code = int(code)
        metrics.CLOSES.labels(str(code)).inc()
        self.closing = True
        self.close_code = code
        out, self.out = self.out, None
        if out is not None:
            out.cancel()
        asyncio.ensure_future(self._send_close(code))
        # Release everything server-side now (hub, presence, the Connection row): the
        # transport itself may linger until the peer's TCP goes, but holds nothing more.
        asyncio.ensure_future(self.cleanup())

    async def _send_close(self, code):
        try:
            await self._send(close_message(code))
        except Exception:  # already gone: the receive side cleans up
            pass

    # --- input -------------------------------------------------------------------------
    async def on_frame(self, text, data):
        """One frame through the checks, in their fixed order (realtime/frames.py), then the
        handler: in a task for a concurrent action (realtime/inflight.py), else here once
        those in flight are done.  The answer goes out in request order."""
        self.last_frame_at = time.monotonic()
        close, allowed = frames.admit(text, self.bucket)
        if close is not None:
            self.close(close)
            return
        frame = frames.Frame()
        try:
            frames.read(frame, text, allowed, self.bucket)
            request = await frames.check(self, frame)
            metrics.FRAMES_IN.labels(request.action).inc()
            if frame.action.concurrent:
                if self.inflight is None:
                    self.inflight = InFlight(self)
                await self.inflight.start(frame.request_id, lambda: self.dispatch(request))
                return
            if self.inflight is not None:
                await self.inflight.drained()
            self.answer(frame.request_id, await self.dispatch(request))
        except ClientGone:
            return  # closed while it waited to write: nobody to answer
        except Exception as exc:
            self.answer(frame.request_id, error=exc)

    def answer(self, request_id, result=None, error=None):
        """At once, or behind the answers of the concurrent requests still in flight."""
        if self.inflight is not None and self.inflight.pending():
            self.inflight.add_ready(request_id, result, error)
        else:
            self.answer_now(request_id, result, error)

    def answer_now(self, request_id, result=None, error=None):
        """Writes a request's reply (then the step its handler left for after it,
        Reply.then), or its error."""
        if error is None:
            then = None
            if type(result) is Reply:
                result, then = result.data, result.then
            if request_id is not None:
                self.send_json({"type": "reply", "request_id": request_id, "data": result or {}})
            if then is None:
                return
            try:
                then()
                return
            except Exception as exc:
                error = exc
        body, _ = errors.error_payload(error, context=f" on connection {self.id}")
        metrics.ERRORS.labels(body["code"]).inc()
        self.send_json({"type": "error", "request_id": request_id, "error": body})

    async def dispatch(self, request):
        action = actions[request.action]
        if action.is_async:
            return await action.handler(request)
        return await store.run_sync(action.handler, request)
