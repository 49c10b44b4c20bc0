"""The one JSON shape of each feeds object, used by socket replies, events, REST and admin,
beside the JSON Schema of the item (events are checked against it on every publish:
feeds.realtime).  Timestamps in the API's one format (project.schema.iso: ISO 8601, UTC,
`+00:00`)."""

from project.schema import iso

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



def serialize_tombstone(item_id, external_id, version):
    """A deleted item: {id, external_id, version, deleted: true} and nothing of its content
    (REST, socket replies, live events and replays alike)."""
    return {"id": item_id, "external_id": external_id, "version": version, "deleted": True}


def serialize_item(item):
    """{id, external_id, feed, kind, title, body, url, data, occurred_at, version, deleted,
    updated_at}, or the tombstone of a deleted item.  item.feed should be loaded (the
    services and views make sure of it)."""
    if item.deleted:
        return serialize_tombstone(item.pk, item.external_id, item.version)
    return {
        "id": item.pk,
        "external_id": item.external_id,
        "feed": item.feed.slug,
        "kind": item.kind,
        "title": item.title,
        "body": item.body,
        "url": item.url,
        "data": item.data,
        "occurred_at": iso(item.occurred_at),
        "version": item.version,
        "deleted": item.deleted,
        "updated_at": iso(item.updated_at),
    }


def serialize_feed(feed):
    return {
        "slug": feed.slug,
        "title": feed.title,
        "description": feed.description,
        "is_public": feed.is_public,
        "topic": feed.topic,
        "created_at": iso(feed.created_at),
    }


def serialize_batch(batch):
    return {
        "batch": batch.pk,
        "status": batch.status,
        "received_at": iso(batch.received_at),
        "started_at": iso(batch.started_at),
        "finished_at": iso(batch.finished_at),
        "attempts": batch.attempts,
        "counts": {
            "received": batch.received,
            "created": batch.created,
            "updated": batch.updated,
            "unchanged": batch.unchanged,
            "rejected": batch.rejected,
        },
        "errors": batch.errors,
    }
