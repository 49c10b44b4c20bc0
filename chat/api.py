"""REST API of rooms, members and messages.  Views parse input and call chat.services;
a room the caller may not read is 404 `not_found` everywhere (see chat.permissions)."""

import logging

import redis
from django.contrib.auth import get_user_model
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.response import Response

import realtime
from chat import selectors, services
from chat.models import Message
from chat.serializers import (
    MemberAddSerializer,
    MemberSerializer,
    MessageCreateSerializer,
    MessageEditSerializer,
    MessageSerializer,
    PresenceSerializer,
    RoomCreateSerializer,
    RoomSerializer,
    RoomUpdateSerializer,
)
from project.schema import ERROR, CursorPage
from realtime.errors import NotFound

logger = logging.getLogger("chat.api")

# The header a replayed request's 200 carries (the name Stripe and the IETF
# Idempotency-Key draft's implementations use).
REPLAYED_HEADER = "Idempotent-Replayed"


class RoomPagination(CursorPage):
    ordering = ("name", "id")
    page_size = 100


class MessagePagination(CursorPage):
    """Newest first; follow `next` to page back in time."""

    ordering = "-id"
    page_size = 50


class MemberPagination(CursorPage):
    """Oldest member first."""

    ordering = ("joined_at", "id")
    page_size = 100


def _parse(serializer_class, request):
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _presence(rooms):
    """Presence per room topic, or None when Redis is unreachable (the list still works)."""
    try:
        return realtime.present_users_many(room.topic for room in rooms)
    except redis.RedisError as exc:
        logger.warning("presence unavailable for the room list: %s", exc)
        return None


def _room_response(request, slug, code=status.HTTP_200_OK):
    room = selectors.get_rooms(user=request.user).filter(slug=slug).first()
    if room is None:
        raise NotFound("No such room.", field="room")
    return Response(RoomSerializer(room, context={"presence": _presence([room])}).data, status=code)


class RoomList(ListAPIView):
    """Public rooms and the caller's private ones, with unread counts and presence."""

    serializer_class = RoomSerializer
    pagination_class = RoomPagination

    def get_queryset(self):
        return selectors.get_rooms(user=self.request.user)

    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        data = RoomSerializer(page, many=True, context={"presence": _presence(page)}).data
        return self.get_paginated_response(data)

    @extend_schema(request=RoomCreateSerializer, responses={201: RoomSerializer})
    def post(self, request):
        """Creates a room; the caller becomes its owner."""
        room = services.room_create(creator=request.user, **_parse(RoomCreateSerializer, request))
        return _room_response(request, room.slug, status.HTTP_201_CREATED)


class RoomDetail(GenericAPIView):
    serializer_class = RoomSerializer

    def get(self, request, slug):
        return _room_response(request, slug)

    @extend_schema(request=RoomUpdateSerializer, responses={200: RoomSerializer})
    def patch(self, request, slug):
        """Changes name, description, privacy or the archived flag (owner or staff)."""
        room = selectors.get_room(slug=slug, user=request.user)
        services.room_update(room=room, actor=request.user, **_parse(RoomUpdateSerializer, request))
        return _room_response(request, slug)

    @extend_schema(request=None, responses={200: RoomSerializer})
    def delete(self, request, slug):
        """Archives the room (read-only from then on; owner or staff).  Nothing is erased."""
        services.room_archive(room=selectors.get_room(slug=slug, user=request.user), actor=request.user)
        return _room_response(request, slug)


class MemberList(ListAPIView):
    """A room's members, oldest first (cursor pages), and adding one."""

    serializer_class = MemberSerializer
    pagination_class = MemberPagination

    def get_queryset(self):
        room = selectors.get_room(slug=self.kwargs["slug"], user=self.request.user)
        return room.memberships.select_related("user")

    @extend_schema(request=MemberAddSerializer, responses={
        201: OpenApiResponse(MemberSerializer, description="Added."),
        200: OpenApiResponse(MemberSerializer, description="Already a member (its role set as given)."),
    })
    def post(self, request, slug):
        """Adds a member (201) or sets an existing member's role (200), owner or staff."""
        room = selectors.get_room(slug=slug, user=request.user)
        data = _parse(MemberAddSerializer, request)
        users = get_user_model().objects.filter(is_active=True)
        user = users.filter(pk=data["user_id"]).first() if data.get("user_id") is not None \
            else users.filter(username=data["username"]).first()
        existed = user is not None and room.memberships.filter(user=user).exists()
        membership = services.member_add(room=room, actor=request.user, user=user, role=data["role"])
        return Response(MemberSerializer(membership).data,
                        status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED)


class MemberDetail(GenericAPIView):
    serializer_class = MemberSerializer

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, slug, user_id):
        """Removes a member (owner or staff), or leaves the room (oneself)."""
        room = selectors.get_room(slug=slug, user=request.user)
        user = get_user_model().objects.filter(pk=user_id).first()
        if user is None:
            raise NotFound("Not a member of this room.", field="user")
        services.member_remove(room=room, actor=request.user, user=user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MessageList(ListAPIView):
    """A room's messages, newest first (cursor pages), and posting (same service as the
    socket's chat.send, so a REST post reaches every subscriber)."""

    serializer_class = MessageSerializer
    pagination_class = MessagePagination

    def get_queryset(self):
        room = selectors.get_room(slug=self.kwargs["slug"], user=self.request.user)
        return selectors.get_messages(room=room)

    @extend_schema(request=MessageCreateSerializer, responses={
        201: OpenApiResponse(MessageSerializer, description="Posted."),
        200: OpenApiResponse(MessageSerializer, description="A replay: this author already posted "
                             "this `client_id` here; the original message, nothing posted again."),
    }, parameters=[OpenApiParameter(REPLAYED_HEADER, str, OpenApiParameter.HEADER, response=[200],
                                    enum=["true"], description="Sent with a replay's 200.")])
    def post(self, request, slug):
        """Posts a message.  With a `client_id` a retry is safe: it answers 200 with the
        first message and the `Idempotent-Replayed: true` header."""
        room = selectors.get_room(slug=slug, user=request.user)
        data = _parse(MessageCreateSerializer, request)
        # Seen before the call: a retry of an earlier request.  (Two copies racing each
        # other both see nothing; the service keeps one message and both answer 201.)
        client_id = data.get("client_id")
        replay = isinstance(client_id, str) and bool(client_id.strip()) and request.user.is_authenticated \
            and Message.objects.filter(room=room, author=request.user, client_id=client_id.strip()).exists()
        message = services.message_create(room=room, author=request.user, **data)
        if replay:
            return Response(MessageSerializer(message).data, status=status.HTTP_200_OK,
                            headers={REPLAYED_HEADER: "true"})
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)


class MessageDetail(GenericAPIView):
    serializer_class = MessageSerializer

    def _message(self, request, slug, message_id):
        room = selectors.get_room(slug=slug, user=request.user)
        return selectors.get_message(room=room, message_id=message_id)

    def get(self, request, slug, message_id):
        return Response(MessageSerializer(self._message(request, slug, message_id)).data)

    @extend_schema(request=MessageEditSerializer, responses={200: MessageSerializer, 409: ERROR})
    def patch(self, request, slug, message_id):
        """Edits the body (the author; staff may moderate)."""
        message = self._message(request, slug, message_id)
        body = _parse(MessageEditSerializer, request)["body"]
        message = services.message_edit(message=message, editor=request.user, body=body)
        return Response(MessageSerializer(message).data)

    @extend_schema(request=None, responses={200: MessageSerializer})
    def delete(self, request, slug, message_id):
        """Soft-deletes (author, owner or staff); answers the tombstone."""
        message = self._message(request, slug, message_id)
        message = services.message_delete(message=message, actor=request.user)
        return Response(MessageSerializer(message).data)


class RoomPresence(GenericAPIView):
    serializer_class = PresenceSerializer

    def get(self, request, slug):
        """Who is in the room now (subscribed to room:<slug>), one entry per user."""
        room = selectors.get_room(slug=slug, user=request.user)
        return Response({"presence": realtime.present_users_many([room.topic])[room.topic]})
