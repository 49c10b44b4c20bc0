"""How a `Client` reads its socket (a mixin: the connection loop is client.py): frames are
decoded by the raw core's one decoder (frames.py) over its websockets transport; replies
and errors settle their requests, events go to their subscription, once each and in order.
"""

import logging

from switchboard_client import errors
from switchboard_client.frames import decode
from switchboard_client.subscription import Event
from switchboard_client.transport import Closed, WebsocketsTransport

logger = logging.getLogger("switchboard_client")


class DispatchMixin:
    async def _read(self, ws):
        """Runs for one socket's life: every frame to _on_frame until the close."""
        transport = WebsocketsTransport(ws)
        while True:
            got = await transport.recv()
            if got.__class__ is Closed:
                return
            frame = decode(got)
            if frame.get("type") == "invalid":
                logger.warning("switchboard: ignoring a frame that is not a JSON object")
                continue
            self._on_frame(frame)

    def _on_frame(self, frame):
        kind = frame.get("type")
        if kind in ("reply", "error"):
            if kind == "reply":
                self._unauthorized_streak = 0  # this socket was authenticated after all
            pending = self._pending.get(frame.get("request_id"))
            if pending is None or pending.future.done():
                if kind == "error":
                    logger.warning("switchboard: error frame %s", frame.get("error"))
                return
            if kind == "reply":
                pending.future.set_result(frame.get("data") or {})
            else:
                pending.future.set_exception(errors.ProtocolError.from_payload(frame.get("error")))
        elif kind == "event":
            if frame.get("event") == "auth.expired":
                self._auth_expired = True  # close 4401 follows: reconnect with a new ticket
            else:
                self._on_event(frame)

    def _on_event(self, frame):
        sub = self._subs.get(frame.get("topic"))
        if sub is None or not sub.active:
            return
        seq = frame.get("seq")
        if isinstance(seq, int):
            # Defence in depth: the server never repeats a seq, but a script must never see
            # an event twice (a replay racing a live frame, a resubscribe on one socket).
            if sub.last_seq is not None and seq <= sub.last_seq:
                return
            if sub.last_seq is not None and seq > sub.last_seq + 1 and not sub.syncing:
                # A gap the server should have filled: ask it to replay from what we have.
                if self._ready:
                    self._start_subscribe(sub)
                return
            sub.last_seq = seq
        data = frame.get("data")
        sub._on_event(Event(sub.topic, str(frame.get("event")), seq if isinstance(seq, int) else None,
                            data if isinstance(data, dict) else {}))
