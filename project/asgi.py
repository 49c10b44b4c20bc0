"""ASGI entry point: HTTP goes to Django, WebSockets to the realtime endpoint.

The WebSocket side is realtime.endpoint.websocket_app: path, origin policy and the session
user in one layer (unlike channels' middleware stack it neither copies the scope per layer
nor wraps every send), then the consumer.
"""

import gc
import os
import sys

import django
from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django.setup(set_prefix=False)  # before anything imports models

from project.middleware import run_django_middleware_sync  # noqa: E402

run_django_middleware_sync()  # before the handler loads the middleware
django_asgi_app = get_asgi_application()

from project import daphne_compat  # noqa: E402

daphne_compat.patch()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from realtime.endpoint import websocket_app  # noqa: E402

application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket_app})

# The URL patterns and every view module they import (DRF, the schema generator, the
# apps' APIs): Django loads them at the first request, which then took ~0.3 s of the event
# loop's time in the middle of whatever the process was doing (a connect storm, in a
# profile).  Loaded now, they are also frozen below.
from django.urls import get_resolver  # noqa: E402

get_resolver().url_patterns  # noqa: B018 (the load is the point)

# Everything loaded so far (Django, apps, URL patterns, schemas) lives as long as the
# process: frozen, full collections stop walking it again and again (full collections of
# 115-135 ms were seen in a daphne process parsing a 5,000-event ingest POST).  Then
# collections far rarer than Python's default (why: REALTIME_GC_THRESHOLDS).
gc.freeze()
gc.set_threshold(*settings.REALTIME_GC_THRESHOLDS)
# The event loop shares the GIL with the database threads (why this value:
# REALTIME_GIL_SWITCH_INTERVAL).
sys.setswitchinterval(settings.REALTIME_GIL_SWITCH_INTERVAL)
