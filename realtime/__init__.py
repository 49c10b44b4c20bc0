"""The realtime protocol layer: one socket endpoint, topics, publish, resume, presence.

This module is realtime's public API: apps (accounts, chat, feeds, whiteboard) import the names in
`__all__` from here, plus the `realtime.errors` module, and nothing else of realtime; the rest is
the runtime behind it.  `make lint` checks that edge with import-linter (pyproject.toml
`[tool.importlinter]`), and that realtime never imports an app.

    import realtime                      # then realtime.publish(topic, event, data)
    from realtime import publish_many, register_action, register_topic_kind, register_event
    from realtime import errors

(`realtime.publish` is called through the package because a submodule shares its name:
import-linter reads `from realtime import publish` as an import of that internal module.)

Every name is resolved lazily on first use, so `import realtime` in settings-time code does not
pull in channels, Redis or the ORM.
"""

import importlib
import sys
import types

# public name -> (module, attribute): the one table of what apps may use.
_PUBLIC = {
    # Publishing: one write (outbox row) then a send on commit (realtime.publish).
    "publish": ("realtime.publish", "publish"),
    "publish_many": ("realtime.publish", "publish_many"),
    "apublish": ("realtime.publish", "apublish"),
    "flush": ("realtime.publish", "flush"),
    # Registration, called from each app's `<app>/realtime.py` at ready().
    "register_topic_kind": ("realtime.registry", "register_topic_kind"),
    "register_action": ("realtime.registry", "register_action"),
    "register_event": ("realtime.registry", "register_event"),
    # The one public form of a user (every event and API body) and its JSON Schema.
    "public_user": ("realtime.auth", "public_info"),
    "USER_SCHEMA": ("realtime.auth", "USER_SCHEMA"),
    # Rights changed: close or re-check the sockets concerned (after commit).
    "kick": ("realtime.control", "kick"),
    "reauthorize": ("realtime.control", "reauthorize"),
    "revoke_tickets": ("realtime.auth", "revoke_tickets"),
    # Who is on some topics now, read synchronously (REST views, services).
    "present_users_many": ("realtime.presence", "present_many"),
    # The WebSocket close codes the server sends (static/realtime/close-codes.js mirrors it).
    "CloseCode": ("realtime.close_codes", "CloseCode"),
    "session_digest": ("realtime.session_auth", "digest"),
    "announce_rights_changed": ("realtime.signals", "announce"),
    # The stored event log: redaction rewrites, retiring a deleted topic's history.
    "find_events": ("realtime.outbox", "find"),
    "rewrite_events": ("realtime.outbox", "rewrite"),
    "retire_topics": ("realtime.outbox", "retire"),
    "latest_seq": ("realtime.store", "latest_seq"),
    # Shared plumbing apps build on.
    "bound_cursor": ("realtime.sql", "bound_cursor"),
    "async_redis": ("realtime.redis", "async_client"),
    "sync_redis": ("realtime.redis", "sync_client"),
    "emit_webhook": ("realtime.webhooks.hook", "emit"),
    "WriteRateThrottle": ("realtime.throttles", "WriteRateThrottle"),
    "WRITES_PENDING": ("realtime.metrics", "WRITES_PENDING"),
    "WRITES_REFUSED": ("realtime.metrics", "WRITES_REFUSED"),
    "WRITE_BATCH_SIZE": ("realtime.metrics", "WRITE_BATCH_SIZE"),
}

__all__ = ["errors", *_PUBLIC]


def __getattr__(name):
    if name == "errors":
        return importlib.import_module("realtime.errors")
    try:
        module, attribute = _PUBLIC[name]
    except KeyError:
        raise AttributeError(f"module 'realtime' has no attribute {name!r}") from None
    return getattr(importlib.import_module(module), attribute)


def __dir__():
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """`realtime.publish` is both a submodule and a public function: importing the submodule
    would bind the module over the function on this package (so `from realtime import publish`
    would depend on import order).  Public names stay resolved by __getattr__ above; the
    submodules stay reachable through `from realtime.publish import ...` (sys.modules)."""

    def __setattr__(self, name, value):
        if name in _PUBLIC and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
