from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"

    def ready(self):
        """Registers this app's topic kind, events and socket actions (chat.realtime)."""
        from chat import realtime  # noqa: F401

    def seed_demo(self, user):
        """`manage.py seed_demo`: the public room `lobby` owned by the demo user, if missing."""
        from chat import services
        from chat.models import Room

        if not Room.objects.filter(slug="lobby").exists():
            services.room_create(creator=user, slug="lobby", name="Lobby",
                                 description="Say hello.")
