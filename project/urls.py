from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from django.views import defaults
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from project import health
from realtime.errors import Internal, NotFound
from realtime.metrics import metrics_view

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's init script as a file (?script), not inline: the
    # Content-Security-Policy allows no inline scripts (templates/api_docs.html).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="api_docs.html"),
         name="api-docs"),
    path("", include("accounts.urls")),
    path("", include("realtime.urls")),
    path("", include("chat.urls")),
    path("", include("feeds.urls")),
    path("", include("whiteboard.urls")),
    path("", include("project.pages")),
]


def _api_path(request):
    return request.path.startswith("/api/")


def handler404(request, exception=None):
    """A URL nothing matches (a slug with a space fails its converter): under /api/ the
    API's JSON error body, like every other API error; elsewhere Django's page."""
    if _api_path(request):
        error = NotFound("No such URL or object.")
        return JsonResponse({"error": error.payload()}, status=error.http_status)
    return defaults.page_not_found(request, exception)


def handler500(request):
    """An error outside DRF's handler (middleware, URL resolution): JSON under /api/."""
    if _api_path(request):
        error = Internal()
        return JsonResponse({"error": error.payload()}, status=error.http_status)
    return defaults.server_error(request)
