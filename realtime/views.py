"""REST endpoints of the realtime layer: connect tickets, server-side publish, connections."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, permissions, status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from realtime import control
from realtime.auth import issue_ticket
from realtime.models import Connection
from realtime.publish import publish
from realtime.serializers import (
    ConnectionSerializer,
    PublishResultSerializer,
    PublishSerializer,
    TicketSerializer,
)

PUBLISH_PERMISSION = "realtime.publish_event"


class TicketView(APIView):
    """POST -> {"ticket", "expires_in"}: a single-use ticket for `ws://HOST/ws/?ticket=T`."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=None, responses={200: TicketSerializer})
    def post(self, request):
        from django.conf import settings

        return Response({"ticket": issue_ticket(request.user),
                         "expires_in": settings.REALTIME_TICKET_TTL})


class CanPublish(permissions.BasePermission):
    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and (user.is_staff or user.has_perm(PUBLISH_PERMISSION)))


class PublishView(APIView):
    """Publishes an event for another system: to a topic, or to one connection."""

    permission_classes = [CanPublish]

    @extend_schema(request=PublishSerializer, responses={202: PublishResultSerializer})
    def post(self, request):
        serializer = PublishSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data.get("connection_id"):
            connection = get_object_or_404(Connection, id=data["connection_id"], closed_at__isnull=True)
            control.push_to_connection(connection, data["event"], data["data"])
            return Response({"seq": None, "delivered_to": f"connection:{connection.id}"},
                            status=status.HTTP_202_ACCEPTED)
        seq = publish(data["topic"], data["event"], data["data"], ephemeral=data["ephemeral"])
        return Response({"seq": seq, "delivered_to": data["topic"]}, status=status.HTTP_202_ACCEPTED)


class ConnectionPagination(CursorPagination):
    ordering = "-opened_at"
    page_size = 100


class ConnectionList(generics.ListAPIView):
    """Live and recent WebSocket connections (staff only); ?open=1 for open ones."""

    permission_classes = [permissions.IsAdminUser]
    serializer_class = ConnectionSerializer
    pagination_class = ConnectionPagination

    def get_queryset(self):
        qs = Connection.objects.select_related("user")
        if self.request.query_params.get("open") in ("1", "true"):
            qs = qs.filter(closed_at__isnull=True)
        return qs
