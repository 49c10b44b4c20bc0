"""Typed errors: one class per server error code (docs/protocol.md, "Errors"), plus the
client-side failures `timeout`, `disconnected` and `closed`.

Every error carries the stable snake_case `code` the server sent (REST answers use the same
codes), the human `message`, and where given the `field` at fault, the extra `data` (the
current object of a `conflict`) and `retry_after` (seconds, `rate_limited` / `unavailable`).
Catch `ProtocolError` for all of them, or a subclass for one family.
"""


class ProtocolError(Exception):
    """An error answer from the server (error frame or REST JSON), or a client failure."""

    code = "internal"

    def __init__(self, message=None, *, code=None, field=None, data=None, retry_after=None,
                 status=None, extra=None):
        if code is not None:
            self.code = code
        self.message = message or self.code
        self.field = field
        self.data = data
        self.retry_after = retry_after
        self.status = status  # the HTTP status, for REST answers
        self.extra = extra or {}
        # The error object as the server sent it (set by from_payload), for raw callers.
        self.error = {"code": self.code, "message": self.message}
        super().__init__(f"{self.code}: {self.message}")

    @classmethod
    def from_payload(cls, payload, *, status=None):
        """The typed exception for an error body `{"code", "message", ...}`.  An unknown
        code (a newer server) gives a plain ProtocolError carrying that code."""
        if not isinstance(payload, dict):
            payload = {"code": "internal", "message": repr(payload)}
        original, payload = payload, dict(payload)
        code = str(payload.pop("code", "internal"))
        error_class = ERROR_CLASSES.get(code, ServerError)
        retry_after = payload.pop("retry_after", None)
        exc = error_class(payload.pop("message", None), code=code, field=payload.pop("field", None),
                          data=payload.pop("data", None),
                          retry_after=float(retry_after) if retry_after is not None else None,
                          status=status, extra=payload)
        exc.error = original
        return exc


# --- the server's codes (realtime/errors.py ERROR_CODES and the REST-only ones) ------------
class ServerError(ProtocolError):
    """An error the server answered (an error frame or a REST error body): the request
    reached it and was refused with `code`."""


class ClientFailure(ProtocolError):
    """A failure on this side: no answer came (timeout), the socket dropped, or the client
    was closed.  Whether the server did the request is unknown."""


class BadRequest(ServerError):
    code = "bad_request"


class Invalid(ServerError):
    code = "invalid"


class Unauthenticated(ServerError):
    code = "unauthenticated"


class Forbidden(ServerError):
    code = "forbidden"


class NotFound(ServerError):
    code = "not_found"


class Conflict(ServerError):
    """`data` holds the object's current state."""

    code = "conflict"


class UnknownAction(ServerError):
    code = "unknown_action"


class UnknownTopic(ServerError):
    code = "unknown_topic"


class NotSubscribed(ServerError):
    code = "not_subscribed"


class TooManySubscriptions(ServerError):
    code = "too_many_subscriptions"


class TooLarge(ServerError):
    code = "too_large"


class RateLimited(ServerError):
    """`retry_after`: seconds until the server accepts frames again."""

    code = "rate_limited"


class Unavailable(ServerError):
    """A service the server needs is down; `retry_after` when the server suggested one."""

    code = "unavailable"


class Internal(ServerError):
    code = "internal"


class MethodNotAllowed(ServerError):
    code = "method_not_allowed"


class NotAcceptable(ServerError):
    code = "not_acceptable"


class UnsupportedMediaType(ServerError):
    code = "unsupported_media_type"


# --- client-side failures ----------------------------------------------------------------
class RequestTimeout(ClientFailure, TimeoutError):
    """No reply within the request's timeout.  The server may still have done it: retry
    only what is idempotent (e.g. chat.send with the same client_id)."""

    code = "timeout"


class Disconnected(ClientFailure, ConnectionError):
    """The socket dropped while the request was in flight (requests made with retry=False):
    whether the server did it is unknown."""

    code = "disconnected"


class ClientClosed(ClientFailure):
    """The client was closed (close(), or it stopped on a final authentication failure)."""

    code = "closed"


ERROR_CLASSES = {cls.code: cls for cls in (
    BadRequest, Invalid, Unauthenticated, Forbidden, NotFound, Conflict, UnknownAction, UnknownTopic,
    NotSubscribed, TooManySubscriptions, TooLarge, RateLimited, Unavailable, Internal, MethodNotAllowed,
    NotAcceptable, UnsupportedMediaType, RequestTimeout, Disconnected, ClientClosed)}
