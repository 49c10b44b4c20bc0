"""Everything feeds registers with the realtime layer: the `feed` topic kind, its socket
action and its events (with the schemas of their data).  Imported once, by
FeedsConfig.ready()."""

from feeds import handlers, permissions
from feeds.serialize import ITEM_OR_TOMBSTONE
from realtime import register_action, register_event, register_topic_kind

register_topic_kind("feed", authorize=permissions.authorize_topic, presence=False,
                    anonymous_read=True, public_read=permissions.topic_is_public)
register_action("feed.history", handlers.history, topic_kinds=("feed",), access="read",
                allow_anonymous=True,
                doc="Older items of a feed, newest first: {before?, limit?} -> {items, has_more}.")
register_event("feed.item", {"type": "object", "required": ["item"],
                             "properties": {"item": ITEM_OR_TOMBSTONE}},
               doc="One item of the feed was created or changed (deleted: a tombstone).")
register_event("feed.items", {"type": "object", "required": ["items"],
                              "properties": {"items": {"type": "array", "minItems": 1,
                                                       "items": ITEM_OR_TOMBSTONE}}},
               doc="Several items of the feed changed at once (an ingest batch), in order.")
