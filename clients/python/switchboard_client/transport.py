"""What carries the raw core's frames: the `Transport` interface and the `websockets`
implementation of it.  The repository's tests bring their own (channels' in-process
communicator, tests/ws.py); this package must not import channels.
"""

import asyncio
import typing
from dataclasses import dataclass


@dataclass(frozen=True)
class Closed:
    """What `Transport.recv()` returns once the socket is closed (code 1006: dropped)."""

    code: int | None
    reason: str = ""


class Transport(typing.Protocol):
    async def send(self, text: str) -> None:
        """Sends one text frame; raises ConnectionClosed when the socket is closed."""

    async def recv(self, timeout: float | None = None) -> "str | bytes | Closed":
        """The next frame, or Closed (then again on every later call); TimeoutError after
        `timeout` seconds, without losing a frame or harming the connection.  Cancelling
        it (a caller's own deadline) must lose nothing either."""

    async def close(self, code: int = 1000) -> None:
        """Closes the socket (idempotent)."""


class ConnectionClosed(ConnectionError):
    """The socket closed; `code` is its close code (1006 when it dropped)."""

    def __init__(self, code):
        super().__init__(f"closed with {code}")
        self.code = code


class WebsocketsTransport:
    """A `websockets` (>= 13, asyncio implementation) client connection as a Transport."""

    __slots__ = ("ws", "_closed_errors")

    def __init__(self, ws):
        from websockets.exceptions import ConnectionClosed as WsClosed

        self.ws = ws
        self._closed_errors = WsClosed

    async def send(self, text):
        try:
            await self.ws.send(text)
        except self._closed_errors:
            raise ConnectionClosed(self._code()) from None

    async def recv(self, timeout=None):
        try:
            if timeout is None:  # the hot path: no timer per frame
                return await self.ws.recv()
            async with asyncio.timeout(timeout):  # websockets' recv() is safe to cancel
                return await self.ws.recv()
        except self._closed_errors:
            return Closed(self._code(), self.ws.close_reason or "")

    async def close(self, code=1000):
        await self.ws.close(code)

    def _code(self):
        return self.ws.close_code if self.ws.close_code is not None else 1006
