from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"

    def ready(self):
        """Registers this app's topic kind and socket actions with the realtime layer."""
