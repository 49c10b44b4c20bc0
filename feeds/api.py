"""REST API of feeds: ingestion (POST /api/events/), batches, feeds and their items.
Views parse and authorize; feeds.services validates, writes and publishes."""

import datetime

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from feeds import limits, selectors, services
from feeds import permissions as rules
from feeds.models import Feed, IngestBatch
from feeds.serialize import serialize_batch, serialize_feed, serialize_item
from project.schema import ERROR, CursorPage
from realtime.errors import Forbidden, Invalid, NotFound


# --- serializers: the OpenAPI description; the shapes come from feeds.serialize ------------
class ItemSerializer(serializers.Serializer):
    """A live item, or a deleted one's tombstone: {id, external_id, version, deleted: true}
    and nothing else (so the content fields are optional)."""

    id = serializers.IntegerField(read_only=True)
    external_id = serializers.CharField(read_only=True)
    feed = serializers.CharField(required=False)
    kind = serializers.CharField(required=False)
    title = serializers.CharField(required=False)
    body = serializers.CharField(required=False)
    url = serializers.CharField(required=False)
    data = serializers.JSONField(required=False)
    occurred_at = serializers.DateTimeField(required=False)
    version = serializers.IntegerField(read_only=True)
    deleted = serializers.BooleanField(read_only=True)
    updated_at = serializers.DateTimeField(required=False)

    def to_representation(self, instance):
        return serialize_item(instance)


class ItemEventSerializer(serializers.Serializer):
    """One change event for the feed in the URL (POST /api/feeds/<slug>/items/)."""

    id = serializers.CharField(max_length=limits.MAX_EXTERNAL_ID, help_text="The producer's id of the item.")
    kind = serializers.CharField(required=False, max_length=limits.MAX_KIND)
    title = serializers.CharField(required=False, max_length=limits.MAX_TITLE)
    body = serializers.CharField(required=False, max_length=limits.MAX_BODY)
    url = serializers.URLField(required=False, max_length=limits.MAX_URL)
    data = serializers.JSONField(required=False, help_text="An object, at most 16 KiB of JSON.")
    occurred_at = serializers.DateTimeField(help_text="ISO 8601 with a time zone.")
    version = serializers.IntegerField(min_value=0, help_text="Higher wins; at equal versions the "
                                       "later occurred_at wins.")
    deleted = serializers.BooleanField(required=False, default=False)


class EventSerializer(ItemEventSerializer):
    """One change event of a batch (POST /api/events/): names its feed."""

    feed = serializers.CharField(help_text="The feed's slug.")


class EventBatchSerializer(serializers.Serializer):
    events = EventSerializer(many=True)


class AcceptedSerializer(serializers.Serializer):
    batch = serializers.IntegerField()
    accepted = serializers.IntegerField()


class CountsSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    rejected = serializers.IntegerField()


class BatchErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(allow_null=True)
    field = serializers.CharField(allow_null=True)
    message = serializers.CharField()


class BatchSerializer(serializers.Serializer):
    batch = serializers.IntegerField()
    status = serializers.ChoiceField(choices=[s for s, _ in IngestBatch.STATUSES])
    received_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    attempts = serializers.IntegerField()
    counts = CountsSerializer()
    errors = BatchErrorSerializer(many=True)


class FeedSerializer(serializers.Serializer):
    slug = serializers.CharField(max_length=50)
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    is_public = serializers.BooleanField(required=False, default=True)
    topic = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, instance):
        return serialize_feed(instance)


class FeedUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(required=False, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    is_public = serializers.BooleanField(required=False)


class ItemResultSerializer(serializers.Serializer):
    result = serializers.ChoiceField(choices=["created", "updated", "unchanged"])
    item = ItemSerializer()


# --- permissions ---------------------------------------------------------------------------
class CanIngest(permissions.BasePermission):
    message = "You need the feeds.ingest_events permission."

    def has_permission(self, request, view):
        return rules.can_ingest(request.user)


def _body(request):
    if not isinstance(request.data, dict):
        raise Invalid("The body must be a JSON object.", field="body")
    return request.data


def _parse(serializer_class, request):
    """The body checked for types and required fields (400 `invalid` naming each); the
    services check the rest."""
    serializer = serializer_class(data=_body(request))
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- ingestion -----------------------------------------------------------------------------
class EventsView(APIView):
    """Accepts a batch of change events for the ingest workers (validated first)."""

    permission_classes = [CanIngest]

    @extend_schema(request=EventBatchSerializer, responses={202: AcceptedSerializer}, description=(
        "Queues a batch of change events; poll `GET /api/events/batches/{pk}/` until `done`.  "
        "Validated first: if any event is invalid nothing is queued and the 400 error's "
        "`data.errors` lists them ({index, field, message}, bounded), `data.error_count` "
        "counts them."))
    def post(self, request):
        # The body's size (FEEDS_MAX_BATCH_BYTES) was checked before it was read, 413
        # too_large: project.middleware.BodySizeLimitMiddleware.
        batch = services.queue_events(source=request.user, events=_body(request).get("events"))
        return Response({"batch": batch.pk, "accepted": batch.received}, status=status.HTTP_202_ACCEPTED)


class BatchView(APIView):
    """A batch's status and counts (its sender and staff)."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={200: BatchSerializer})
    def get(self, request, pk):
        batch = IngestBatch.objects.defer("payload").filter(pk=pk).first()
        if batch is None or not (request.user.is_staff or batch.source_id == request.user.pk):
            raise NotFound("No such batch.")
        return Response(serialize_batch(batch))


# --- feeds ---------------------------------------------------------------------------------
class FeedPagination(CursorPage):
    ordering = "slug"
    page_size = 100


class FeedList(generics.ListAPIView):
    """Feeds this user may read; staff create them."""

    serializer_class = FeedSerializer
    pagination_class = FeedPagination

    def get_queryset(self):
        return selectors.get_feeds(user=self.request.user)

    @extend_schema(request=FeedSerializer, responses={201: FeedSerializer, 409: ERROR})
    def post(self, request):
        if not rules.can_manage(request.user):
            raise Forbidden("Only staff create feeds.")
        body = _parse(FeedSerializer, request)
        feed = services.feed_create(slug=body["slug"], title=body["title"],
                                    description=body.get("description", ""), is_public=body["is_public"])
        return Response(serialize_feed(feed), status=status.HTTP_201_CREATED)


class FeedDetail(APIView):
    """One feed; staff change its title, description and visibility."""

    @extend_schema(responses={200: FeedSerializer})
    def get(self, request, slug):
        return Response(serialize_feed(selectors.get_feed(slug=slug, user=request.user)))

    @extend_schema(request=FeedUpdateSerializer, responses={200: FeedSerializer})
    def patch(self, request, slug):
        if not rules.can_manage(request.user):
            raise Forbidden("Only staff change feeds.")
        feed = selectors.get_feed(slug=slug, user=request.user)
        body = _parse(FeedUpdateSerializer, request)
        feed = services.feed_update(feed=feed, title=body.get("title"),
                                    description=body.get("description"), is_public=body.get("is_public"))
        return Response(serialize_feed(feed))


# --- items ---------------------------------------------------------------------------------
class ItemPagination(CursorPage):
    page_size = limits.REST_PAGE_SIZE
    max_page_size = limits.REST_MAX_PAGE_SIZE
    page_size_query_description = (f"Results per page (default {limits.REST_PAGE_SIZE}, "
                                   f"at most {limits.REST_MAX_PAGE_SIZE}).")

    def get_ordering(self, request, queryset, view):
        # Syncing clients (updated_after) page forward through changes, oldest first;
        # readers page back through the feed, newest first.
        if "updated_after" in request.query_params:
            return ("updated_at", "id")
        return ("-occurred_at", "-id")


def _parse_time(value, field):
    try:
        # A "+01:00" offset arrives as " 01:00" when the client did not URL-encode it.
        parsed = datetime.datetime.fromisoformat(value.replace(" ", "+"))
    except ValueError:
        raise Invalid(f"{field} must be an ISO 8601 date-time.", field=field) from None
    if parsed.tzinfo is None:
        raise Invalid(f"{field} must include a time zone.", field=field)
    try:
        # In UTC: PostgreSQL refuses offsets beyond ±15:59 that Python accepts.
        return parsed.astimezone(datetime.UTC)
    except OverflowError:
        raise Invalid(f"{field} is out of range.", field=field) from None


class FeedItems(generics.ListAPIView):
    """A feed's items, newest first (deleted ones left out), or with `updated_after` every
    change (tombstones included) oldest first; `kind` filters.  POST applies one event."""

    serializer_class = ItemSerializer
    pagination_class = ItemPagination

    def get_queryset(self):
        feed = selectors.get_feed(slug=self.kwargs["slug"], user=self.request.user)
        items = feed.items.all()
        params = self.request.query_params
        if params.get("kind"):
            items = items.filter(kind=params["kind"])
        if "updated_after" in params:
            items = items.filter(updated_at__gt=_parse_time(params["updated_after"], "updated_after"))
        else:
            items = items.filter(deleted=False)
        return items

    @extend_schema(parameters=[
        OpenApiParameter("kind", str, description="Only items of this kind."),
        OpenApiParameter("updated_after", datetime.datetime,
                         description="Only items changed after this time (ISO 8601), oldest first, "
                                     "deleted ones included."),
    ])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=ItemEventSerializer,
                   responses={201: ItemResultSerializer, 200: ItemResultSerializer})
    def post(self, request, slug):
        if not rules.can_ingest(request.user):
            raise Forbidden("You need the feeds.ingest_events permission.")
        feed = Feed.objects.filter(slug=slug).first()
        if feed is None:
            raise NotFound(f"No feed {slug!r}.", field="feed")
        outcome, item = services.item_upsert(feed=feed, data=_body(request))
        return Response({"result": outcome, "item": serialize_item(item)},
                        status=status.HTTP_201_CREATED if outcome == "created" else status.HTTP_200_OK)
