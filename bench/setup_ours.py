"""Creates what the load generator needs on a Switchboard database (idempotent):
user `bench` / `bench-pass` (staff, so it may use POST /api/publish/), its API token,
the public room `bench` (topic `room:bench`, board `board:bench`) and rooms
`bench-0` .. `bench-<N-1>` for cursor-storm boards.

Runs with the project's settings, so with the environment of the server it prepares:
    DEBUG=1 .venv/bin/python -m bench.setup_ours        # for `make run` (SQLite under var/)
    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python -m bench.setup_ours
(with DEBUG off the settings need SECRET_KEY and ALLOWED_HOSTS, as in production; the
PostgreSQL database must exist and be migrated: `make bench` does both).
Prints one JSON line {"token", "user_id", "rooms"}.
"""
import argparse
import json
import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

USERNAME, PASSWORD = "bench", "bench-pass"


def setup(boards=50):
    from rest_framework.authtoken.models import Token

    from accounts.models import User
    from chat import services
    from chat.models import Room

    user = User.objects.filter(username=USERNAME).first()
    if user is None:
        user = User.objects.create_user(USERNAME, password=PASSWORD, is_staff=True)
    elif not user.is_staff or not user.check_password(PASSWORD):
        user.is_staff = True
        user.set_password(PASSWORD)
        user.save()
    token, _ = Token.objects.get_or_create(user=user)
    slugs = ["bench", *(f"bench-{i}" for i in range(boards))]
    existing = set(Room.objects.filter(slug__in=slugs).values_list("slug", flat=True))
    for slug in slugs:
        if slug not in existing:
            # Through the service, as any room is made (owner membership, room event).
            services.room_create(creator=user, slug=slug, name=f"Bench {slug}")
    return {"token": token.key, "user_id": user.pk, "rooms": len(slugs)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--boards", type=int, default=50, help="rooms bench-0.. for cursor-storm")
    args = p.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()
    print(json.dumps(setup(args.boards)), flush=True)


if __name__ == "__main__":
    main()
