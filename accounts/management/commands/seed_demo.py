"""`manage.py seed_demo`: the demo user and whatever demo data each app provides, once.

Run by `make run` every start; it only creates what is missing.  Each app that wants demo
data defines `seed_demo(self, user)` on its AppConfig (chat: room `lobby`; feeds: `news`;
whiteboard: shapes on the lobby's board).  Prints the demo login and the demo pages that
exist (`--base-url` makes them full links; project/stack.py passes its own).
"""

import secrets

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.urls import NoReverseMatch, reverse

# The pages the apps' seed_demo hooks create, printed for a newcomer to open:
# (label, app label, model, slug, URL name).
DEMO_PAGES = [
    ("demo room", "chat", "Room", "lobby", "room"),
    ("demo feed", "feeds", "Feed", "news", "feed"),
]


class Command(BaseCommand):
    help = "Creates the demo user, a public room 'lobby' and a public feed 'news' if missing."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="",
                            help="prefix for the printed page links, e.g. http://127.0.0.1:8000")

    def handle(self, *args, **options):
        User = get_user_model()
        login_file = settings.VAR_DIR / "demo-login.txt"
        with transaction.atomic():
            user = User.objects.filter(username="demo").first()
            if user is None:
                user = User.objects.create_user("demo", display_name="Demo User", is_staff=True,
                                                is_superuser=True)
            # The printed password must work against *this* database (var/ may have served
            # another one): keep the stored one if it matches, else set a fresh one.
            password = _stored_password(login_file)
            if not password or not user.check_password(password):
                password = secrets.token_urlsafe(9)
                user.set_password(password)
                user.save(update_fields=["password"])
                login_file.write_text(f"demo login: username 'demo', password '{password}'\n")
                login_file.chmod(0o600)
            for config in apps.get_app_configs():
                seed = getattr(config, "seed_demo", None)
                if seed:
                    seed(user)
        self.stdout.write(login_file.read_text().strip())
        base = options["base_url"].rstrip("/")
        for label, url in demo_pages():
            self.stdout.write(f"{label}: {base}{url}")


def demo_pages():
    """(label, path) of each DEMO_PAGES entry whose app is installed and object exists."""
    pages = []
    for label, app_label, model_name, slug, url_name in DEMO_PAGES:
        if not apps.is_installed(app_label):
            continue
        model = apps.get_model(app_label, model_name)
        if not model.objects.filter(slug=slug).exists():
            continue
        try:
            pages.append((label, reverse(url_name, kwargs={"slug": slug})))
        except NoReverseMatch:
            continue
    return pages


def _stored_password(path):
    if not path.exists():
        return None
    text = path.read_text()
    marker = "password '"
    return text.split(marker, 1)[1].split("'", 1)[0] if marker in text else None
