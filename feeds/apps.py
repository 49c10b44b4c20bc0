from django.apps import AppConfig


class FeedsConfig(AppConfig):
    name = "feeds"

    def ready(self):
        """Registers this app's topic kind, action and events (feeds.realtime)."""
        from feeds import realtime  # noqa: F401

    def seed_demo(self, user):
        """The public feed `news` for `make run`, if missing."""
        from feeds.models import Feed

        Feed.objects.get_or_create(slug="news", defaults={
            "title": "News", "description": "Announcements and changes from connected systems.",
            "is_public": True})
