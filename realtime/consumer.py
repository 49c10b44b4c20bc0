"""The one WebSocket endpoint (/ws/): a lean ASGI app, one instance per connection.

Not a channels consumer: channels' dispatch hops to a thread before every message
(close_old_connections), the largest single cost of a broadcast.  Here the event loop
only parses, checks and routes; ORM work crosses to threads in realtime.store.run_sync.

Every frame passes the checks in a fixed order before any handler: size, parse, rate
limit, authenticate, authorize the topic, dispatch -- the checks that cost nothing come
first, so a flood is refused before it costs a database query or a Redis command.  Frames
of one connection are handled one at a time, so replies come in request order.  Outgoing
frames wait in a send queue bounded in bytes (realtime/send_queue.py).
"""

import asyncio
import logging
import time
import uuid

import orjson
from django.conf import settings

from realtime import errors, metrics, session_auth, store
from realtime.auth import public_info, redeem_ticket, user_from_ticket
from realtime.client_address import client_address
from realtime.hub import get_hub
from realtime.limits import TokenBucket
from realtime.registry import ActionRequest, actions, parse_topic, topic_kinds
from realtime.send_queue import ClientGone, SendQueue

logger = logging.getLogger("realtime.consumer")

# Close codes (docs/protocol.md lists them for clients).
CLOSE_GOING_AWAY = 1001
CLOSE_TOO_BIG = 1009
CLOSE_SERVER_ERROR = 1011
CLOSE_UNAUTHORIZED = 4401
CLOSE_IDLE = 4408
CLOSE_FLOOD = 4429
CLOSE_SLOW_CONSUMER = 4503
MAX_REQUEST_ID_LENGTH = 64


class RealtimeConsumer:
    """ASGI app for one WebSocket (realtime.endpoint starts it); also the hub's LocalConnection.

    Slotted, and the output queue exists only while frames wait: 10,000 idle sockets in a
    process are its largest memory (docs/performance.md)."""

    __slots__ = ("scope", "_send", "id", "user", "user_id", "user_info", "subs", "state", "authz",
                 "bucket", "last_frame_at", "out", "closing", "cleaned_up",
                 "close_code", "hub", "cred", "auth_expires", "started")

    def __init__(self, scope, send):
        self.scope = scope
        self._send = send
        self.id = str(uuid.uuid4())
        self.user = None
        self.user_id = None
        self.user_info = None
        self.subs = {}
        self.state = {}
        self.authz = {}  # (topic, access) -> (expires, exception or None)
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
            await self._send({"type": "websocket.close", "code": CLOSE_SERVER_ERROR})
            connected = False
        if not connected:
            return
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.receive":
                    await self.on_frame(message.get("text"), message.get("bytes"))
                elif message["type"] == "websocket.disconnect":
                    self.close_code = self.close_code or message.get("code")
                    break
        except asyncio.CancelledError:
            # The server is shutting down (daphne cancels every application): tell the
            # client to go elsewhere (1001) rather than leaving it to time out.
            if not self.closing:
                self.closing = True
                self.close_code = CLOSE_GOING_AWAY
                await asyncio.shield(self._send({"type": "websocket.close", "code": CLOSE_GOING_AWAY}))
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
                await self._send({"type": "websocket.close", "code": CLOSE_UNAUTHORIZED})
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
        self.abort(CLOSE_SLOW_CONSUMER)

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
            await self._send({"type": "websocket.close", "code": code})
        except Exception:  # already gone: the receive side cleans up
            pass

    # --- input -------------------------------------------------------------------------
    async def on_frame(self, text, data):
        """One frame through the checks, in order: size (close 1009), parse (JSON object,
        known action, well-formed fields), rate limit (close 4429 for a flood), then
        authentication and authorization, then the handler.  Every frame within the size
        takes a token, so a flood of garbage is closed like any other; but the answer names
        the first check a frame fails, so a malformed one is told what is wrong with it."""
        self.last_frame_at = time.monotonic()
        if text is not None and len(text) > settings.REALTIME_MAX_FRAME_BYTES // 4 \
                and len(text.encode()) > settings.REALTIME_MAX_FRAME_BYTES:
            self.close(CLOSE_TOO_BIG)
            return
        bucket = self.bucket
        allowed = bucket.take()
        if not allowed and (bucket.flooding_for() > settings.REALTIME_FLOOD_CLOSE_AFTER
                            or bucket.refused > settings.REALTIME_FLOOD_CLOSE_FRAMES):
            self.close(CLOSE_FLOOD)
            return
        request_id = None
        try:
            if text is None:
                raise errors.BadRequest("Binary frames are not accepted; send JSON text.")
            frame = _parse(text)
            request_id = _request_id(frame)
            name, action, data = _action(frame)
            if not allowed:
                raise errors.RateLimited(retry_after=bucket.retry_after())
            request = await self.check(frame, name, action, data, request_id)
            metrics.FRAMES_IN.labels(request.action).inc()
            result = await self.dispatch(request)
            if request_id is not None:
                self.send_json({"type": "reply", "request_id": request_id, "data": result or {}})
            if request.action == "subscribe":
                self.hub.finish_subscribe(self, request.topic)
        except ClientGone:
            return  # closed while it waited to write: nobody to answer
        except Exception as exc:
            body, _ = errors.error_payload(exc, context=f" on connection {self.id}")
            metrics.ERRORS.labels(body["code"]).inc()
            self.send_json({"type": "error", "request_id": request_id, "error": body})

    async def check(self, frame, name, action, data, request_id):
        """authenticate -> authorize (after the free checks: on_frame); the ActionRequest."""
        # authenticate (against the fresh user while a change to it is being applied)
        if self.user_id is not None and self.user_id in self.hub.rechecking:
            await session_auth.wait_for_recheck(self)
        if self.user_id is None and not action.allow_anonymous:
            raise errors.Unauthenticated("Log in to do that.")
        # authorize the topic
        topic = kind = key = None
        if action.topic_kinds:
            topic = frame.get("topic")
            kind, key = parse_topic(topic)
            if action.topic_kinds != ("*",) and kind not in action.topic_kinds:
                raise errors.Invalid(f"{name} does not take {kind!r} topics.", field="topic")
            if action.requires_subscription and topic not in self.subs:
                raise errors.NotSubscribed(f"Subscribe to {topic} first.", field="topic")
            await self.authorize(topic, kind, key, action.access, fresh=name == "subscribe")
        return ActionRequest(name, request_id, topic, kind, key, data, self.user, self.id,
                             self.state, self)

    async def authorize(self, topic, kind, key, access, fresh=False):
        now = time.monotonic()
        cached = None if fresh else self.authz.get((topic, access))
        if cached is None or cached[0] < now:
            topic_kind = topic_kinds[kind]
            denial = None
            if self.user_id is None and not topic_kind.anonymous_read:
                denial = errors.Forbidden("Log in to follow this topic.", field="topic")
            elif self.user_id is None and access == "write":
                denial = errors.Forbidden("Log in to do that.", field="topic")
            elif not (access == "read" and await self.hub.known_public(topic)):
                public = access == "read" and topic_kind.public_read is not None
                asking = self.hub.ask_public(topic) if public else None
                is_public = False
                try:
                    allowed, is_public = await store.run_sync(_authorize, topic_kind, self.user,
                                                              key, access, public)
                    if not allowed:
                        denial = errors.Forbidden(f"You may not {access} {topic}.", field="topic")
                except errors.ProtocolError as exc:
                    denial = exc
                finally:
                    if asking is not None:
                        self.hub.answer_public(topic, asking, is_public)
            cached = (now + settings.REALTIME_AUTHZ_CACHE_SECONDS, denial)
            self.authz[(topic, access)] = cached
        if cached[1] is not None:
            raise cached[1]

    async def dispatch(self, request):
        action = actions[request.action]
        if action.is_async:
            return await action.handler(request)
        return await store.run_sync(action.handler, request)


def _authorize(topic_kind, user, key, access, public):
    """(allowed, whether it is because the topic is public); runs in a worker thread."""
    if public and topic_kind.public_read(key):
        return True, True
    return bool(topic_kind.authorize(user, key, access)), False


def _parse(text):
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise errors.BadRequest("The frame is not valid JSON.") from None
    if not isinstance(frame, dict):
        raise errors.BadRequest("The frame must be a JSON object.")
    return frame


def _action(frame):
    """(name, registered action, data) of a parsed frame, or the error saying what is wrong."""
    name = frame.get("action")
    if not isinstance(name, str):
        raise errors.Invalid("action must be a string.", field="action")
    action = actions.get(name)
    if action is None:
        raise errors.UnknownAction(f"No action {name[:64]!r}.", field="action")
    data = frame.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise errors.Invalid("data must be an object.", field="data")
    return name, action, data


def _request_id(frame):
    request_id = frame.get("request_id")
    if request_id is None:
        return None
    if isinstance(request_id, bool) or not isinstance(request_id, (str, int)):
        raise errors.Invalid("request_id must be a string or an integer.", field="request_id")
    if isinstance(request_id, str) and len(request_id) > MAX_REQUEST_ID_LENGTH:
        raise errors.Invalid("request_id is too long.", field="request_id")
    if isinstance(request_id, int) and abs(request_id) > 2**53:
        raise errors.Invalid("request_id is too large.", field="request_id")
    return request_id
