"""The realtime protocol layer: one socket endpoint, topics, publish, resume, presence.

Apps use:
    from realtime import publish, publish_many, apublish
    from realtime.registry import register_topic_kind, register_action
    from realtime import errors
It never imports an app.
"""


def __getattr__(name):
    # Lazy, so `import realtime` in settings-time code does not pull in channels.
    if name in ("publish", "publish_many", "apublish", "flush"):
        from realtime import publish as module

        return getattr(module, name)
    raise AttributeError(name)
