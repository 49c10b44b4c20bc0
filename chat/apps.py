from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"

    def ready(self):
        """Registers this app's topic kind, events and socket actions with the realtime layer."""
        from chat import events, handlers, permissions
        from realtime import register_action, register_topic_kind

        events.register()
        register_topic_kind("room", authorize=handlers.authorize, presence=True, anonymous_read=True,
                            public_read=permissions.slug_is_public)
        room = ("room",)
        register_action("chat.send", handlers.send, topic_kinds=room, access="write",
                        doc="Posts a message {body, client_id}; idempotent per client_id.")
        register_action("chat.edit", handlers.edit, topic_kinds=room, access="write",
                        doc="Edits one's own message {id, body}.")
        register_action("chat.delete", handlers.delete, topic_kinds=room, access="write",
                        doc="Deletes a message {id} (author, owner or staff).")
        register_action("chat.typing", handlers.typing, topic_kinds=room, access="write",
                        requires_subscription=True, doc="Tells the others you are typing (ephemeral).")
        register_action("chat.history", handlers.history, topic_kinds=room, access="read",
                        allow_anonymous=True, doc="A page of messages {before?, limit?}, newest last.")
        register_action("chat.read", handlers.read, topic_kinds=room, access="read",
                        doc="Stores the read position {message_id}.")

    def seed_demo(self, user):
        """`manage.py seed_demo`: the public room `lobby` owned by the demo user, if missing."""
        from chat import services
        from chat.models import Room

        if not Room.objects.filter(slug="lobby").exists():
            services.room_create(creator=user, slug="lobby", name="Lobby",
                                 description="Say hello.")
