"""REST endpoints of the whiteboard.  They parse the request and call the same services as
the socket actions, so a REST change reaches every socket on the board."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.serializers import UserSerializer
from project.schema import ERROR
from realtime.errors import Invalid
from whiteboard import selectors, services
from whiteboard.serialize import serialize_shape
from whiteboard.svg import render_svg

# The SVG is served from this site's origin: it must never run anything, even if a
# future bug let markup through the escaping.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'"


# --- schema-only serializers (the data itself is made by serialize.serialize_shape) ----------
class ShapeSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=["stroke", "line", "rect", "ellipse", "text", "note"])
    data = serializers.JSONField(help_text="Fields per kind: docs/protocol/whiteboard.md")
    z = serializers.IntegerField()
    version = serializers.IntegerField()
    created_by = UserSerializer(allow_null=True)
    updated_by = UserSerializer(allow_null=True)
    updated_at = serializers.DateTimeField()


class ShapeInputSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="Chosen by the client; unique per board.")
    kind = serializers.ChoiceField(choices=["stroke", "line", "rect", "ellipse", "text", "note"])
    data = serializers.JSONField(help_text="Fields per kind: docs/protocol/whiteboard.md")
    z = serializers.IntegerField(required=False, help_text="Default: on top of everything.")
    version = serializers.IntegerField(
        required=False, help_text="The version this change is based on; absent or 0 for a new shape.")


class DrawRequestSerializer(serializers.Serializer):
    shape = ShapeInputSerializer()


class DrawReplySerializer(serializers.Serializer):
    shape = ShapeSerializer()


class SnapshotSerializer(serializers.Serializer):
    shapes = ShapeSerializer(many=True)
    seq = serializers.IntegerField(help_text="Subscribe to board:<slug> with since=seq to follow on.")


class ErasedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    version = serializers.IntegerField(help_text="The erased version: a redraw at it undoes the erase.")


class SVGRenderer(BaseRenderer):
    """Lets `Accept: image/svg+xml` through content negotiation (the view itself returns
    the image); errors under it are still the JSON error body."""

    media_type = "image/svg+xml"
    format = "svg"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, str):
            return data.encode()
        return JSONRenderer().render(data)


# --- views ------------------------------------------------------------------------------------
class BoardView(APIView):
    """GET: the board's snapshot, the same as the socket's `board.snapshot`."""

    @extend_schema(responses={200: SnapshotSerializer})
    def get(self, request, slug):
        room = selectors.get_room_unchecked(slug=slug)
        return Response(selectors.get_snapshot(room=room, user=request.user))


class ShapesView(APIView):
    """POST {shape}: creates or replaces a shape (as `board.draw`)."""

    @extend_schema(request=DrawRequestSerializer,
                   responses={200: DrawReplySerializer, 201: DrawReplySerializer, 409: ERROR})
    def post(self, request, slug):
        room = selectors.get_room_unchecked(slug=slug)
        if not isinstance(request.data, dict) or "shape" not in request.data:
            raise Invalid("shape is required.", field="shape")
        shape = services.shape_draw(room=room, user=request.user, shape=request.data["shape"])
        created = shape.version == 1
        return Response({"shape": serialize_shape(shape)},
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ShapeView(APIView):
    """DELETE ?version=N: erases a shape (as `board.erase`)."""

    @extend_schema(parameters=[OpenApiParameter(
        "version", int, required=False, description="Refuse (409) unless the shape is at this version.")],
        responses={200: ErasedSerializer, 409: ERROR})
    def delete(self, request, slug, shape_id):
        room = selectors.get_room_unchecked(slug=slug)
        return Response(services.shape_erase(room=room, user=request.user, shape_id=str(shape_id),
                                             version=request.query_params.get("version")))


class ExportView(APIView):
    """GET: every live shape in z order as an SVG image."""

    renderer_classes = [JSONRenderer, SVGRenderer]

    # No `format` parameter: the answer is always SVG (errors are JSON).
    @extend_schema(operation_id="boards_export_svg", responses={(200, "image/svg+xml"): OpenApiTypes.STR},
                   parameters=[OpenApiParameter("format", exclude=True)])
    def get(self, request, slug):
        room = selectors.get_room_unchecked(slug=slug)
        shapes = selectors.get_shapes(room=room, user=request.user)
        response = HttpResponse(render_svg(shapes, title=room.name),
                                content_type="image/svg+xml; charset=utf-8")
        response["Content-Disposition"] = f'inline; filename="board-{room.slug}.svg"'
        response["Content-Security-Policy"] = SVG_CSP
        response["X-Content-Type-Options"] = "nosniff"
        return response
