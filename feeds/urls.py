from django.urls import path

from feeds import api

urlpatterns = [
    path("api/events/", api.EventsView.as_view(), name="api-events"),
    path("api/events/batches/<int:pk>/", api.BatchView.as_view(), name="api-event-batch"),
    path("api/feeds/", api.FeedList.as_view(), name="api-feeds"),
    path("api/feeds/<slug:slug>/", api.FeedDetail.as_view(), name="api-feed"),
    path("api/feeds/<slug:slug>/items/", api.FeedItems.as_view(), name="api-feed-items"),
]
