from django.urls import path

from chat import api

urlpatterns = [
    path("api/rooms/", api.RoomList.as_view(), name="api-rooms"),
    path("api/rooms/<slug:slug>/", api.RoomDetail.as_view(), name="api-room"),
    path("api/rooms/<slug:slug>/members/", api.MemberList.as_view(), name="api-room-members"),
    path("api/rooms/<slug:slug>/members/<int:user_id>/", api.MemberDetail.as_view(),
         name="api-room-member"),
    path("api/rooms/<slug:slug>/messages/", api.MessageList.as_view(), name="api-room-messages"),
    path("api/rooms/<slug:slug>/messages/<int:message_id>/", api.MessageDetail.as_view(),
         name="api-room-message"),
    path("api/rooms/<slug:slug>/presence/", api.RoomPresence.as_view(), name="api-room-presence"),
]
