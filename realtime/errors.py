"""Typed protocol errors and the one translator from exceptions to error frames / JSON.

Every failure a client can see is a ProtocolError subclass with a stable snake_case
`code`.  `error_payload()` turns any exception into the `{"code", "message", ...}` body
used by both the socket (error frames) and REST (JSON 4xx/5xx): an unknown exception is
logged with its traceback and answered `internal`, never swallowed.
"""

import logging
import math

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, DataError, InterfaceError, OperationalError
from redis.exceptions import ClusterError, ReadOnlyError, SlotNotCoveredError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger("realtime.errors")

# Seconds a REST client is told to wait after a 503 `unavailable` (Retry-After and
# `retry_after`): a database failover or a Redis restart takes a few seconds.
UNAVAILABLE_RETRY_AFTER = 5
# Redis failures that mean "not reachable right now" rather than a bug: a connection or
# timeout, a primary demoted to replica mid-failover (READONLY), a cluster whose slot is
# failing over (CLUSTERDOWN, TRYAGAIN, a slot no node covers yet).  docs/scaling.md.
REDIS_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, ReadOnlyError, ClusterError,
                     TryAgainError, SlotNotCoveredError)


class ProtocolError(Exception):
    """Base of every client-visible error.  `code` is stable API; `message` is for people."""

    code = "internal"
    http_status = 500
    default_message = "Internal error."

    def __init__(self, message=None, *, field=None, data=None, **extra):
        self.message = message or self.default_message
        self.field = field
        self.data = data
        self.extra = extra
        super().__init__(self.message)

    def payload(self):
        body = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        if self.data is not None:
            body["data"] = self.data
        body.update(self.extra)
        return body


def _error(name, code, status, message):
    return type(name, (ProtocolError,), {"code": code, "http_status": status,
                                          "default_message": message})


BadRequest = _error("BadRequest", "bad_request", 400, "The frame is not a JSON object.")
Invalid = _error("Invalid", "invalid", 400, "A field is missing or invalid.")
Unauthenticated = _error("Unauthenticated", "unauthenticated", 401, "Log in first.")
Forbidden = _error("Forbidden", "forbidden", 403, "You may not do that.")
NotFound = _error("NotFound", "not_found", 404, "No such object.")
Conflict = _error("Conflict", "conflict", 409, "The object changed since you last saw it.")
UnknownAction = _error("UnknownAction", "unknown_action", 400, "No such action.")
UnknownTopic = _error("UnknownTopic", "unknown_topic", 400, "No such kind of topic.")
NotSubscribed = _error("NotSubscribed", "not_subscribed", 400, "Subscribe to the topic first.")
TooManySubscriptions = _error("TooManySubscriptions", "too_many_subscriptions", 400,
                              "Too many subscriptions on this connection.")
TooLarge = _error("TooLarge", "too_large", 413, "The request body is too large.")
RateLimited = _error("RateLimited", "rate_limited", 429, "Too many requests; slow down.")
Unavailable = _error("Unavailable", "unavailable", 503,
                     "A service this needs is unavailable; try again shortly.")
Internal = _error("Internal", "internal", 500, "Internal error.")
# More writes are waiting than the process takes on (REALTIME_MAX_PENDING_WRITES, or the
# oldest has waited REALTIME_MAX_WRITE_WAIT_SECONDS): refused at once with `retry_after`
# instead of joining a queue measured in seconds.  Nothing was written; retry the same
# client_id after retry_after.
Overloaded = _error("Overloaded", "overloaded", 503,
                    "The server has too many writes waiting; retry after retry_after seconds.")

# Every code a client may see, for docs/protocol.md and its completeness test.
ERROR_CODES = sorted({cls.code for cls in ProtocolError.__subclasses__()})
# Codes only REST answers (DRF's own refusals, mapped in drf_exception_handler).
REST_ONLY_CODES = {"method_not_allowed": 405, "not_acceptable": 406, "unsupported_media_type": 415}
# The one list of codes an API client may see (the OpenAPI schema's enum).
HTTP_ERROR_CODES = sorted(set(ERROR_CODES) | set(REST_ONLY_CODES))


def error_payload(exc, *, context=""):
    """The error body for any exception; logs unknown ones with their traceback."""
    if isinstance(exc, ProtocolError):
        return exc.payload(), exc.http_status
    if isinstance(exc, (OperationalError, InterfaceError)):
        logger.warning("database unavailable%s: %s", context, exc)
        return Unavailable().payload(), 503
    if isinstance(exc, REDIS_UNAVAILABLE):
        # Redis (throttles, tickets, presence) is down or restarting: nothing was written
        # by the caller yet, or what was is in the outbox; the client retries shortly.
        logger.warning("redis unavailable%s: %s", context, exc)
        return Unavailable().payload(), 503
    if isinstance(exc, RequestDataTooBig):
        # Django's own body limit (DATA_UPLOAD_MAX_MEMORY_SIZE), should a body get past
        # project.middleware.BodySizeLimitMiddleware's check: the client's input, not a 500.
        return TooLarge().payload(), 413
    if isinstance(exc, DataError):
        # The database refused a value the validators let through (a NUL character, a
        # date or offset out of its range): the client's input, so a 400, not a 500.
        logger.warning("database refused a value%s: %s", context, exc)
        return Invalid("A value is out of range or contains characters that cannot be stored.").payload(), 400
    if isinstance(exc, DatabaseError):
        logger.exception("database error%s", context, exc_info=exc)
        return Internal().payload(), 500
    logger.error("unhandled exception%s", context, exc_info=exc)
    return Internal().payload(), 500


def drf_exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: one JSON error shape for REST, same codes as the socket."""
    from django.core.exceptions import PermissionDenied
    from django.core.exceptions import ValidationError as DjangoValidationError
    from django.http import Http404
    from rest_framework import exceptions as drf
    from rest_framework.response import Response

    headers = {}
    if isinstance(exc, ProtocolError) or not isinstance(
        exc, (drf.APIException, Http404, PermissionDenied, DjangoValidationError)
    ):
        body, status = error_payload(exc, context=f" in {context.get('view')!r}")
        if status == 503:
            # Whole seconds, rounded up (an `overloaded` error brings its own wait).
            body["retry_after"] = math.ceil(body.get("retry_after") or UNAVAILABLE_RETRY_AFTER)
            headers["Retry-After"] = str(body["retry_after"])
        return Response({"error": _rest_shape(body)}, status=status, headers=headers)
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = drf.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    code = {
        drf.ValidationError: "invalid",
        drf.ParseError: "bad_request",
        drf.NotAuthenticated: "unauthenticated",
        drf.AuthenticationFailed: "unauthenticated",
        drf.PermissionDenied: "forbidden",
        drf.NotFound: "not_found",
        drf.MethodNotAllowed: "method_not_allowed",  # REST_ONLY_CODES
        drf.NotAcceptable: "not_acceptable",
        drf.UnsupportedMediaType: "unsupported_media_type",
        drf.Throttled: "rate_limited",
    }.get(type(exc), "invalid" if exc.status_code < 500 else "internal")
    body = {"code": code, "message": _first_message(exc.detail)}
    if isinstance(exc, drf.ValidationError):
        body["fields"] = exc.detail
        field = _first_field(exc.detail)
        if field:
            body["field"] = field
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None) is not None:
        # Whole seconds, rounded up: the header and the body say the same.
        body["retry_after"] = math.ceil(exc.wait)
        headers["Retry-After"] = str(body["retry_after"])
    return Response({"error": body}, status=exc.status_code, headers=headers)


def _rest_shape(body):
    """The REST error body's fixed keys (code, message, field, fields, data, retry_after):
    any other extra a ProtocolError carries (an events batch's `errors` and `error_count`)
    moves into `data`, so every endpoint's body has the one documented shape."""
    known = {"code", "message", "field", "fields", "data", "retry_after"}
    extras = {key: body.pop(key) for key in list(body) if key not in known}
    if extras:
        data = body.get("data")
        body["data"] = {**(data if isinstance(data, dict) else {}), **extras}
    return body


def _first_message(detail):
    while isinstance(detail, (list, dict)) and detail:
        detail = next(iter(detail.values())) if isinstance(detail, dict) else detail[0]
    return str(detail) if detail else "Invalid request."


def _first_field(detail):
    if isinstance(detail, dict) and detail:
        key = next(iter(detail))
        sub = _first_field(detail[key])
        return f"{key}.{sub}" if sub else str(key)
    if isinstance(detail, list):
        for index, item in enumerate(detail):
            sub = _first_field(item)
            if sub:
                return f"{index}.{sub}"
    return None
