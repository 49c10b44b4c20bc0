from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Realtime"

    def ready(self):
        """Registers the built-in actions and the `user:<id>` topic; hooks logout."""
        from realtime import builtins, checks, signals  # noqa: F401  (checks registers itself)

        builtins.register()
        signals.connect()
        from realtime.webhooks import hook

        hook.connect()
