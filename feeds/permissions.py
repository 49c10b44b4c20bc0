"""Who may read a feed and who may write to feeds.  The one place these rules live: the
services, REST views, pages and the socket's feed:<slug> topic all ask here.

Public feed: anyone may read (anonymous too).  Private feed: staff and holders of
feeds.view_private_feed; to everyone else it does not exist (not_found, never forbidden).
Writing items: holders of feeds.ingest_events (superusers have every permission), through
REST or ingestion only; nobody writes over the socket.
"""

from feeds.models import INGEST_PERMISSION, VIEW_PRIVATE_PERMISSION, Feed
from realtime.errors import NotFound


def _signed_in(user):
    return bool(getattr(user, "is_authenticated", False)) and user.is_active


def can_read(user, feed):
    if feed.is_public:
        return True
    return _signed_in(user) and (user.is_staff or user.has_perm(VIEW_PRIVATE_PERMISSION))


def can_ingest(user):
    return _signed_in(user) and user.has_perm(INGEST_PERMISSION)


def can_manage(user):
    """Create and edit feeds themselves."""
    return _signed_in(user) and user.is_staff


def readable_feeds(user):
    qs = Feed.objects.all()
    if _signed_in(user) and (user.is_staff or user.has_perm(VIEW_PRIVATE_PERMISSION)):
        return qs
    return qs.filter(is_public=True)


def readable_feed(user, slug):
    """The feed, or NotFound when it is missing or private to this user."""
    feed = Feed.objects.filter(slug=slug).first()
    if feed is None or not can_read(user, feed):
        raise NotFound(f"No feed {slug!r}.", field="feed")
    return feed


def authorize_topic(user, key, access):
    """feed:<slug> hook of the realtime layer: read if readable; no socket writes."""
    feed = readable_feed(user, key)
    return access == "read" and feed is not None


def topic_is_public(key):
    """feed:<slug> may be read by anyone (the realtime layer caches this per process)."""
    return Feed.objects.filter(slug=key, is_public=True).exists()
