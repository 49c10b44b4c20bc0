from django.apps import AppConfig

ITEM_SCHEMA = {
    "type": "object",
    "required": ["id", "external_id", "feed", "kind", "title", "body", "url", "data", "occurred_at",
                 "version", "deleted", "updated_at"],
    "properties": {
        "id": {"type": "integer"},
        "external_id": {"type": "string"},
        "feed": {"type": "string"},
        "kind": {"type": "string"},
        "title": {"type": "string"},
        "body": {"type": "string"},
        "url": {"type": "string"},
        "data": {"type": "object"},
        "occurred_at": {"type": "string", "format": "date-time"},
        "version": {"type": "integer", "minimum": 0},
        "deleted": {"type": "boolean"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}

# A deleted item, everywhere (feeds.serialize.serialize_tombstone): no content at all.
TOMBSTONE_SCHEMA = {
    "type": "object",
    "required": ["id", "external_id", "version", "deleted"],
    "properties": {
        "id": {"type": "integer"},
        "external_id": {"type": "string"},
        "version": {"type": "integer", "minimum": 0},
        "deleted": {"const": True},
    },
    "additionalProperties": False,
}
ITEM_OR_TOMBSTONE = {"anyOf": [ITEM_SCHEMA, TOMBSTONE_SCHEMA]}


class FeedsConfig(AppConfig):
    name = "feeds"

    def ready(self):
        """Registers this app's topic kind and socket actions with the realtime layer."""
        from feeds import handlers, permissions
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

    def seed_demo(self, user):
        """The public feed `news` for `make run`, if missing."""
        from feeds.models import Feed

        Feed.objects.get_or_create(slug="news", defaults={
            "title": "News", "description": "Announcements and changes from connected systems.",
            "is_public": True})
