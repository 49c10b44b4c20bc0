"""Signed webhooks out (docs/webhooks.md).

Apps announce facts that are not socket events with `emit(type, topic, data)` (sync, in
their transaction); socket events reach webhooks through realtime.publish on their own.
Layout: models (endpoints, events, deliveries, attempts), hook (where events come in),
delivery (the per-(endpoint, topic) queues), sending + signing + ssrf (one HTTP attempt),
tasks (Celery), admin, api (/api/webhooks/).
"""

from realtime.webhooks.hook import apresence, emit

__all__ = ["apresence", "emit"]
