"""Helpers of the session-cookie tests (tests/realtime/test_sessions.py, test_session_storm.py,
test_auth.py): a logged-in browser's cookie, and a Redis that cannot be read."""

from asgiref.sync import sync_to_async
from django.test import Client

from realtime import sessions


@sync_to_async
def log_in(user):
    """(the logged-in test Client, its session key): what a browser holds after logging in."""
    client = Client()
    client.force_login(user)
    return client, client.cookies["sessionid"].value


class _Unreadable:
    def execute(self, *args):
        raise ConnectionError("redis is down")


def break_snapshot_reads(monkeypatch):
    """Every snapshot read of realtime.sessions fails as with Redis down (for this test)."""
    monkeypatch.setattr(sessions, "batched", lambda: _Unreadable())
