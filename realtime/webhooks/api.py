"""REST API of webhooks: /api/webhooks/ (list, create), /api/webhooks/<id>/ (read, change,
delete), /api/webhooks/<id>/rotate-secret/ and /api/webhooks/<id>/deliveries/.  Staff or
holders of `realtime.manage_webhooks`.  The secret is in the create and rotate answers only."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from project.schema import CursorPage, DateTimeField
from realtime.webhooks import endpoints
from realtime.webhooks.models import EVENTS, Delivery, WebhookEndpoint

PERMISSION = "realtime.manage_webhooks"


class CanManageWebhooks(permissions.BasePermission):
    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and (user.is_staff or user.has_perm(PERMISSION)))


class EndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=list(EVENTS)), min_length=1)
    owner = serializers.CharField(source="owner.username", read_only=True, default=None, allow_null=True)
    created_at = DateTimeField(read_only=True)
    updated_at = DateTimeField(read_only=True)
    failing_since = DateTimeField(read_only=True, allow_null=True)
    disabled_at = DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "events", "topic_filter", "enabled", "owner",
                  "failing_since", "disabled_at", "disabled_reason", "created_at", "updated_at"]
        read_only_fields = ["id", "owner", "failing_since", "disabled_at", "disabled_reason"]
        extra_kwargs = {"url": {"help_text": "https:// (http:// only in DEBUG)."}}


class CreatedEndpointSerializer(EndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text="Shown this once: keep it to verify "
                                   "Switchboard-Signature (docs/webhooks.md).")

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]


class SecretSerializer(serializers.Serializer):
    secret = serializers.CharField(read_only=True)


class DeliverySerializer(serializers.ModelSerializer):
    event_id = serializers.UUIDField(source="event.id", read_only=True)
    type = serializers.CharField(source="event.type", read_only=True)
    created_at = DateTimeField(read_only=True)
    next_attempt_at = DateTimeField(read_only=True)
    delivered_at = DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Delivery
        fields = ["id", "event_id", "type", "topic", "status", "attempts", "created_at",
                  "next_attempt_at", "delivered_at"]


def _valid(serializer_class, request, partial=False):
    serializer = serializer_class(data=request.data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class EndpointPagination(CursorPage):
    ordering = "id"
    page_size = 100


class EndpointList(generics.ListAPIView):
    """Webhook endpoints (staff or `realtime.manage_webhooks`); POST registers one and
    answers its secret, this once."""

    permission_classes = [CanManageWebhooks]
    serializer_class = EndpointSerializer
    pagination_class = EndpointPagination
    queryset = WebhookEndpoint.objects.select_related("owner")

    @extend_schema(request=EndpointSerializer, responses={201: CreatedEndpointSerializer})
    def post(self, request):
        body = _valid(EndpointSerializer, request)
        endpoint, secret = endpoints.create(owner=request.user, **body)
        return Response({**EndpointSerializer(endpoint).data, "secret": secret},
                        status=status.HTTP_201_CREATED)


class EndpointDetail(APIView):
    """One endpoint: read, change (PATCH; enabling a disabled one restarts its queues),
    delete (its pending deliveries go with it)."""

    permission_classes = [CanManageWebhooks]

    @extend_schema(responses={200: EndpointSerializer})
    def get(self, request, pk):
        return Response(EndpointSerializer(get_object_or_404(WebhookEndpoint, pk=pk)).data)

    @extend_schema(request=EndpointSerializer, responses={200: EndpointSerializer})
    def patch(self, request, pk):
        endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
        body = _valid(EndpointSerializer, request, partial=True)
        return Response(EndpointSerializer(endpoints.update(endpoint, **body)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        get_object_or_404(WebhookEndpoint, pk=pk).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class RotateSecret(APIView):
    """Gives the endpoint a new secret and answers it, this once."""

    permission_classes = [CanManageWebhooks]

    @extend_schema(request=None, responses={200: SecretSerializer})
    def post(self, request, pk):
        return Response({"secret": endpoints.rotate(get_object_or_404(WebhookEndpoint, pk=pk))})


class DeliveryPagination(CursorPage):
    ordering = "-id"
    page_size = 100


class DeliveryList(generics.ListAPIView):
    """An endpoint's deliveries, newest first (attempts in detail: the admin)."""

    permission_classes = [CanManageWebhooks]
    serializer_class = DeliverySerializer
    pagination_class = DeliveryPagination

    def get_queryset(self):
        endpoint = get_object_or_404(WebhookEndpoint, pk=self.kwargs["pk"])
        return endpoint.deliveries.select_related("event")
