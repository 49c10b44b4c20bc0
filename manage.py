#!/usr/bin/env python
"""Django's manage.py, run with the embedded Redis up when REDIS_URL is unset.

Saving a user already talks to Redis (realtime/signals.py), so every command (migrate,
seed_demo, createsuperuser, ingest_events, shell, ...) gets the embedded server on
var/redis.sock for its duration: joined when one answers there (`make run` is up), else
started and stopped again at exit (project/embedded_redis.shared counts the holders).
With REDIS_URL set nothing is started.
"""

import os
import signal
import sys


def embedded_redis_socket():
    """The embedded Redis socket the settings chose, or None (REDIS_URL set, or settings
    that cannot load yet: then Django's own command line reports the error)."""
    if os.environ.get("REDIS_URL") or any(arg.startswith(("--settings", "--pythonpath"))
                                          for arg in sys.argv):
        return None
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        return settings.EMBEDDED_REDIS_SOCKET
    except ImproperlyConfigured:
        return None


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    from django.core.management import execute_from_command_line

    socket = embedded_redis_socket()
    if socket is None:
        execute_from_command_line(sys.argv)
        return
    from project import embedded_redis

    # SIGTERM (e.g. from `make run` stopping a migrate) unwinds like Ctrl-C, so the embedded
    # Redis is released on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    from django.conf import settings

    with embedded_redis.shared(socket, logfile=settings.VAR_DIR / "redis.log"):
        execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
