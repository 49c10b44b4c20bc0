"""REST endpoints of the realtime layer: connect tickets, server-side publish, connections."""

from django.shortcuts import get_object_or_404
from django.utils.functional import lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from project.schema import CursorPage
from realtime import control
from realtime.auth import issue_ticket
from realtime.errors import Invalid
from realtime.models import Connection
from realtime.publish import publish
from realtime.registry import api_publishable_events, event_data_error
from realtime.serializers import (
    ConnectionSerializer,
    PublishResultSerializer,
    PublishSerializer,
    TicketSerializer,
)
from realtime.session_auth import ticket_credential

PUBLISH_PERMISSION = "realtime.publish_event"


class TicketView(APIView):
    """POST -> {"ticket", "expires_in", "auth_expires_in"}: a single-use ticket for
    `ws://HOST/ws/?ticket=T` (or `auth.refresh`), recording the token or session it was
    issued over; a socket it opens is authenticated for at least auth_expires_in seconds."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=None, responses={200: TicketSerializer})
    def post(self, request):
        from django.conf import settings

        credential = ticket_credential(request)
        return Response({"ticket": issue_ticket(request.user, credential),
                         "expires_in": settings.REALTIME_TICKET_TTL,
                         "auth_expires_in": min(settings.REALTIME_AUTH_MAX_AGE,
                                                credential.get("exp", settings.REALTIME_AUTH_MAX_AGE))})


class CanPublish(permissions.BasePermission):
    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and (user.is_staff or user.has_perm(PUBLISH_PERMISSION)))


def _publish_description():
    """The endpoint's OpenAPI description, naming the events it accepts (read when the
    schema is generated, after every app has registered its events)."""
    accepted = ", ".join(f"`{name}`" for name in sorted(api_publishable_events)) or "none"
    return (
        "Publishes an event for another system: to a topic (durable unless `ephemeral`), or to "
        "one connection (ephemeral).  Staff or holders of `realtime.publish_event` only.\n\n"
        f"Accepted events: {accepted} (those registered with `api_publishable=True`).  Events "
        "an app owns (`chat.*`, `board.*`, `feed.*`, `presence.*`, ...) state that app's facts "
        "and are refused here with `invalid` on `event`; `data` must match the event's "
        "registered schema (`invalid` on `data` otherwise).")


class PublishView(APIView):
    """Publishes an app-neutral event (e.g. `notification`) for another system: to a topic,
    or to one connection.  App-owned events are refused; data is checked against the
    event's schema before anything is written or sent."""

    permission_classes = [CanPublish]

    @extend_schema(request=PublishSerializer, responses={202: PublishResultSerializer},
                   description=lazy(_publish_description, str)())
    def post(self, request):
        serializer = PublishSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data["event"] not in api_publishable_events:
            raise Invalid(f"{data['event']!r} belongs to an app and cannot be published through "
                          f"this API; accepted: {', '.join(sorted(api_publishable_events))}.",
                          field="event")
        problem = event_data_error(data["event"], data["data"])
        if problem is not None:
            raise Invalid(f"data does not match the {data['event']!r} schema: {problem}", field="data")
        if data.get("connection_id"):
            connection = get_object_or_404(Connection, id=data["connection_id"], closed_at__isnull=True)
            control.push_to_connection(connection, data["event"], data["data"])
            return Response({"seq": None, "delivered_to": f"connection:{connection.id}"},
                            status=status.HTTP_202_ACCEPTED)
        seq = publish(data["topic"], data["event"], data["data"], ephemeral=data["ephemeral"])
        return Response({"seq": seq, "delivered_to": data["topic"]}, status=status.HTTP_202_ACCEPTED)


class ConnectionPagination(CursorPage):
    ordering = "-opened_at"
    page_size = 100


class ConnectionList(generics.ListAPIView):
    """Live and recent WebSocket connections, newest first (staff only)."""

    permission_classes = [permissions.IsAdminUser]
    serializer_class = ConnectionSerializer
    pagination_class = ConnectionPagination

    @extend_schema(parameters=[OpenApiParameter(
        "open", bool, description="true (or 1): only connections still open.")])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        qs = Connection.objects.select_related("user")
        if self.request.query_params.get("open") in ("1", "true"):
            qs = qs.filter(closed_at__isnull=True)
        return qs
