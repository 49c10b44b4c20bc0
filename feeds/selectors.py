"""Reads of feeds and their items that answer a caller (REST views, socket handlers): each
checks the caller may read what it returns.  Keyword arguments only."""

from django.db.models import Q

from feeds import limits, permissions
from feeds.models import VIEW_PRIVATE_PERMISSION, Feed
from realtime.errors import Invalid, NotFound


def get_feeds(*, user):
    """The feeds `user` may read: every one for staff and holders of feeds.view_private_feed,
    the public ones for everyone else."""
    qs = Feed.objects.all()
    if permissions.signed_in(user) and (user.is_staff or user.has_perm(VIEW_PRIVATE_PERMISSION)):
        return qs
    return qs.filter(is_public=True)


def get_feed(*, slug, user):
    """The feed, or NotFound when it is missing or private to this user."""
    feed = Feed.objects.filter(slug=slug).first()
    if feed is None or not permissions.can_read(user, feed):
        raise NotFound(f"No feed {slug!r}.", field="feed")
    return feed


def get_history(*, feed, before=None, limit=None):
    """(items, has_more): the (readable) feed's items newest first (by occurred_at), older
    than the item `before` (an item id) when given; deleted items left out."""
    if limit is None:
        limit = limits.HISTORY_DEFAULT_LIMIT
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= limits.HISTORY_MAX_LIMIT:
        raise Invalid(f"limit must be an integer from 1 to {limits.HISTORY_MAX_LIMIT}.", field="data.limit")
    items = feed.items.filter(deleted=False).order_by("-occurred_at", "-id")
    if before is not None:
        if isinstance(before, bool) or not isinstance(before, int):
            raise Invalid("before must be an item id.", field="data.before")
        cursor = feed.items.filter(pk=before).values("occurred_at", "id").first()
        if cursor is None:
            raise Invalid("before must be the id of an item of this feed.", field="data.before")
        items = items.filter(Q(occurred_at__lt=cursor["occurred_at"])
                             | Q(occurred_at=cursor["occurred_at"], id__lt=cursor["id"]))
    rows = list(items[: limit + 1])
    return rows[:limit], len(rows) > limit
