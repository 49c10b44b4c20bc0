"""ASGI entry point: HTTP goes to Django, WebSockets to the realtime endpoint.

The WebSocket stack, outside in: origin policy (realtime.auth.OriginPolicyMiddleware),
cookies, the session user resolved once at the handshake (realtime.auth.SessionAuthMiddleware:
unlike channels' AuthMiddlewareStack it does not wrap every send), then the URL router.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django_asgi_app = get_asgi_application()  # sets Django up before anything imports models

from project import daphne_compat  # noqa: E402

daphne_compat.patch()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.sessions import CookieMiddleware  # noqa: E402

from realtime.auth import OriginPolicyMiddleware, SessionAuthMiddleware  # noqa: E402
from realtime.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": OriginPolicyMiddleware(
            CookieMiddleware(SessionAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
