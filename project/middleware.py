"""Body size limits for every view (BodySizeLimitMiddleware), throttles on the login and
account views (LoginThrottleMiddleware), the Content-Security-Policy header, and Django's
middleware run synchronously under ASGI.

Django's middleware, run synchronously under ASGI: a few thread hops per request, not ~30.

Under ASGI Django runs each async-capable middleware (all of Django's own, through
MiddlewareMixin) in async mode, where every process_request/process_response hook is its own
sync_to_async hop, and WhiteNoise (sync only) splits the chain with an async_to_sync hop
back.  A trivial view cost ~5 ms of CPU per request here, mostly that thread ping-pong
(measured in process: 30 SyncToAsync calls and 57 event-loop turns per request; 2.8 ms and
10 calls once sync).  Declared sync-only, the whole chain runs in one worker thread (Django
adapts once at the top), which is what these middlewares do anyway.  The classes stay the
ones settings.MIDDLEWARE names, so `check --deploy` still recognises them.  The socket
endpoint does not go through them.
"""

import logging
from io import BytesIO

import orjson
from csp.middleware import CSPMiddleware
from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.module_loading import import_string
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from feeds import limits as feed_limits
from realtime import throttles
from realtime.errors import UNAVAILABLE_RETRY_AFTER, RateLimited, TooLarge, Unavailable

logger = logging.getLogger("project.middleware")


def run_django_middleware_sync():
    """Marks Django's own middleware classes in settings.MIDDLEWARE sync-only.  Called by
    project/asgi.py after django.setup() and before the ASGI handler loads its middleware."""
    for path in settings.MIDDLEWARE:
        if path.startswith("django."):
            import_string(path).async_capable = False


class BodySizeLimitMiddleware:
    """Refuses a request body larger than its path accepts with 413 `too_large` (JSON), for
    every view (DRF, forms, admin), before anything reads the body.  First in MIDDLEWARE.

    The limit is FEEDS_MAX_BATCH_BYTES on the paths of BIG_BODY_PATHS (feed ingestion
    batches) and DATA_UPLOAD_MAX_MEMORY_SIZE everywhere else.  Django's own check reads
    only the Content-Length header (a chunked body passed unchecked, and DRF then saw an
    empty body) and raised RequestDataTooBig, which DRF answered 500; here a body without
    Content-Length is measured (at most limit + 1 bytes are read) and then given the
    header, so every parser sees the body it measured."""

    sync_capable, async_capable = True, False  # the chain runs sync (see above)

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = body_limit(request.path_info)
        declared = request.META.get("CONTENT_LENGTH") or ""
        if declared.isdigit():
            if int(declared) > limit:
                return too_large_response(limit)
            if int(declared) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
                # Within this path's larger limit: read here, so Django's site-wide check
                # (in request.body) does not refuse what this path accepts.
                _buffer_body(request, request.read())
        else:
            body = request.read(limit + 1)
            if len(body) > limit:
                return too_large_response(limit)
            _buffer_body(request, body)
            request.META["CONTENT_LENGTH"] = str(len(body))
        return self.get_response(request)


# Paths whose bodies may be as large as FEEDS_MAX_BATCH_BYTES (one documented ingest batch).
BIG_BODY_PATHS = ("/api/events/",)


def body_limit(path):
    """The largest body, in bytes, a request to `path` may send."""
    if path in BIG_BODY_PATHS:
        return feed_limits.max_batch_bytes()
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def too_large_response(limit):
    error = TooLarge(f"The request body is larger than {limit} bytes.", limit=limit)
    return JsonResponse({"error": error.payload()}, status=error.http_status)


def _buffer_body(request, body):
    """What HttpRequest.body does once it has read the body: later readers (request.body,
    request.POST, DRF's parsers) get these bytes, and Django's size check is not repeated."""
    request._body = body
    request._stream = BytesIO(body)


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware (the policy is settings.CONTENT_SECURITY_POLICY), run sync
    like the rest of the chain (see above)."""

    sync_capable, async_capable = True, False


class LoginThrottleMiddleware:
    """Throttles POSTs to the credential and account views before they run (no password
    hash, no database write, no authentication for a refused request): per client
    address for all of them, and per user name (failed logins, realtime.throttles) for the
    three logins.  Refusals are 429 with Retry-After -- JSON for the API, an HTML page
    with the wait for forms; a Redis outage is 503 in the same two shapes, never a 500.

    Keyed on URL names, so the admin's login and the account pages are covered wherever
    they are mounted.  After AuthenticationMiddleware in MIDDLEWARE."""

    sync_capable, async_capable = True, False  # the chain runs sync (see above)

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        rule = THROTTLED_VIEWS.get(match.view_name if match else None)
        if request.method != "POST" or rule is None:
            return None
        throttle_class, by_username, as_json = rule
        try:
            throttles.check_rate(throttle_class, request)
            if by_username:
                throttles.check_username(_posted_username(request, as_json))
        except RateLimited as error:
            return _refusal(request, error, as_json)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            logger.warning("throttle unavailable for %s: %s", request.path, exc)
            return _refusal(request, Unavailable(retry_after=UNAVAILABLE_RETRY_AFTER), as_json)
        return None


# URL name -> (per-address throttle, whether failed logins per user name count, JSON answers).
THROTTLED_VIEWS = {
    "api-token": (throttles.LoginRateThrottle, True, True),
    "login": (throttles.LoginRateThrottle, True, False),
    "admin:login": (throttles.LoginRateThrottle, True, False),
    "signup": (throttles.SignupRateThrottle, False, False),
    "api-ticket": (throttles.TicketRateThrottle, False, True),
}


def _posted_username(request, as_json):
    """The user name a login POST tries (form fields, or a JSON body for the API); "" when
    there is none or the body is not what the view will accept anyway."""
    field = get_user_model().USERNAME_FIELD
    if as_json and request.content_type == "application/json":
        try:
            data = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            return ""
        value = data.get(field) if isinstance(data, dict) else None
        return value if isinstance(value, str) else ""
    return request.POST.get(field, "")


def _refusal(request, error, as_json):
    """429/503 for a throttled request: the API's error body, or an HTML page for a form;
    Retry-After equal to the body's retry_after either way."""
    wait = error.extra["retry_after"]
    if as_json:
        response = JsonResponse({"error": error.payload()}, status=error.http_status)
    else:
        response = render(request, "registration/wait.html",
                          {"code": error.code, "retry_after": wait, "message": error.message},
                          status=error.http_status)
    response["Retry-After"] = str(wait)
    return response
