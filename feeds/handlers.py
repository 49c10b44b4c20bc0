"""Socket handlers of the feed:<slug> topic (sync: they run in a worker thread)."""

from feeds import selectors
from feeds.models import Feed
from feeds.serialize import serialize_item
from realtime.errors import NotFound


def history(request):
    """feed.history {before?, limit?} -> {items, has_more}; read access was checked."""
    feed = Feed.objects.filter(slug=request.key).first()
    if feed is None:
        raise NotFound(f"No feed {request.key!r}.", field="topic")
    items, has_more = selectors.get_history(feed=feed, before=request.data.get("before"),
                                            limit=request.data.get("limit"))
    return {"items": [serialize_item(item) for item in items], "has_more": has_more}
