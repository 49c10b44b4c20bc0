"""Django's middleware, run synchronously under ASGI: a few thread hops per request, not ~30.

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

from django.conf import settings
from django.utils.module_loading import import_string


def run_django_middleware_sync():
    """Marks Django's own middleware classes in settings.MIDDLEWARE sync-only.  Called by
    project/asgi.py after django.setup() and before the ASGI handler loads its middleware."""
    for path in settings.MIDDLEWARE:
        if path.startswith("django."):
            import_string(path).async_capable = False
