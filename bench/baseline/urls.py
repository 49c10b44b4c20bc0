"""No HTTP views: the baseline is only the websocket chat."""
urlpatterns = []
