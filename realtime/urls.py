from django.urls import path

from realtime import views

urlpatterns = [
    path("api/auth/ticket/", views.TicketView.as_view(), name="api-ticket"),
    path("api/publish/", views.PublishView.as_view(), name="api-publish"),
    path("api/connections/", views.ConnectionList.as_view(), name="api-connections"),
]
