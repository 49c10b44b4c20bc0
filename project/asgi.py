"""ASGI entry point: HTTP goes to Django, WebSockets to the realtime endpoint.

The WebSocket stack, outside in: origin policy (realtime.auth.OriginPolicyMiddleware),
session auth (channels' AuthMiddlewareStack), then the URL router with the one endpoint.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django_asgi_app = get_asgi_application()  # sets Django up before anything imports models

from project import daphne_compat  # noqa: E402

daphne_compat.patch()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from realtime.auth import OriginPolicyMiddleware  # noqa: E402
from realtime.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": OriginPolicyMiddleware(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
