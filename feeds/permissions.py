"""Who may read a feed and who may write to feeds.  The one place these rules live: the
services, REST views, pages and the socket's feed:<slug> topic all ask here.

Public feed: anyone may read (anonymous too).  Private feed: staff and holders of
feeds.view_private_feed; to everyone else it does not exist (not_found, never forbidden).
Writing items: holders of feeds.ingest_events (superusers have every permission), through
REST or ingestion only; nobody writes over the socket.
"""

from accounts.permissions import signed_in
from feeds.models import INGEST_PERMISSION, VIEW_PRIVATE_PERMISSION, Feed
from realtime.errors import NotFound


def can_read(user, feed):
    if feed.is_public:
        return True
    return signed_in(user) and (user.is_staff or user.has_perm(VIEW_PRIVATE_PERMISSION))


def can_ingest(user):
    return signed_in(user) and user.has_perm(INGEST_PERMISSION)


def can_manage(user):
    """Create and edit feeds themselves."""
    return signed_in(user) and user.is_staff


def authorize_topic(user, key, access):
    """The `feed` topic kind's hook (registered in feeds.realtime), called by the realtime
    layer on subscribe and on each action: read if readable (NotFound otherwise, as for a
    missing feed); nobody writes over the socket."""
    feed = Feed.objects.filter(slug=key).first()
    if feed is None or not can_read(user, feed):
        raise NotFound(f"No feed {key!r}.", field="feed")
    return access == "read"


def topic_is_public(key):
    """feed:<slug> may be read by anyone (the realtime layer caches this per process)."""
    return Feed.objects.filter(slug=key, is_public=True).exists()
