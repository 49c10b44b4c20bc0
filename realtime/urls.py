from django.urls import path

from realtime import views
from realtime.webhooks import api as webhooks

urlpatterns = [
    path("api/auth/ticket/", views.TicketView.as_view(), name="api-ticket"),
    path("api/publish/", views.PublishView.as_view(), name="api-publish"),
    path("api/connections/", views.ConnectionList.as_view(), name="api-connections"),
    path("api/webhooks/", webhooks.EndpointList.as_view(), name="api-webhooks"),
    path("api/webhooks/<int:pk>/", webhooks.EndpointDetail.as_view(), name="api-webhook"),
    path("api/webhooks/<int:pk>/rotate-secret/", webhooks.RotateSecret.as_view(),
         name="api-webhook-rotate"),
    path("api/webhooks/<int:pk>/deliveries/", webhooks.DeliveryList.as_view(),
         name="api-webhook-deliveries"),
]
