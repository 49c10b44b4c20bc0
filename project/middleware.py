"""Body size limits for every view (BodySizeLimitMiddleware), and Django's middleware run
synchronously under ASGI.

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

from io import BytesIO

from django.conf import settings
from django.http import JsonResponse
from django.utils.module_loading import import_string

from feeds import limits as feed_limits
from realtime.errors import TooLarge


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
