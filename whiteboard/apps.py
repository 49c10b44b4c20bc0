from django.apps import AppConfig


class WhiteboardConfig(AppConfig):
    name = "whiteboard"

    def ready(self):
        """Registers this app's topic kind and socket actions with the realtime layer."""
        from whiteboard import schemas

        schemas.register()
