from django.apps import AppConfig

# The demo board's shapes, with fixed ids so seeding twice (every `make run`) adds nothing
# and a shape someone erased stays erased.
DEMO_SHAPES = [
    {"id": "5b0d7e52-4c1a-4b9e-9d1e-000000000001", "kind": "note",
     "data": {"x": 60, "y": 60, "text": "Welcome to the board!\nDraw with the tools above.",
              "color": "#f59e0b"}},
    {"id": "5b0d7e52-4c1a-4b9e-9d1e-000000000002", "kind": "rect",
     "data": {"x": 320, "y": 80, "w": 240, "h": 140, "color": "#1d4ed8", "width": 4}},
    {"id": "5b0d7e52-4c1a-4b9e-9d1e-000000000003", "kind": "stroke",
     "data": {"points": [[340, 300], [380, 340], [430, 320], [480, 360], [540, 330]],
              "color": "#dc2626", "width": 6}},
    {"id": "5b0d7e52-4c1a-4b9e-9d1e-000000000004", "kind": "text",
     "data": {"x": 620, "y": 120, "text": "Others see your strokes as you draw.", "color": "#111827",
              "width": 6}},
]


class WhiteboardConfig(AppConfig):
    name = "whiteboard"

    def ready(self):
        """Registers this app's topic kind, events and socket actions (whiteboard.realtime)."""
        from whiteboard import realtime  # noqa: F401

    def seed_demo(self, user):
        """`manage.py seed_demo`: a few shapes on the lobby's board (once each)."""
        from chat.models import Room
        from whiteboard import services
        from whiteboard.models import Shape

        room = Room.objects.filter(slug="lobby").first()
        if room is None:
            return
        existing = {str(i) for i in Shape.objects.filter(board=room).values_list("shape_id", flat=True)}
        for shape in DEMO_SHAPES:
            if shape["id"] not in existing:
                services.shape_draw(room=room, user=user, shape=shape)
