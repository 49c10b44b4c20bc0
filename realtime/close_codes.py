"""The WebSocket close codes the server sends: one enum, from which the browser client's list
(static/realtime/close-codes.js) and the close-code list of docs/asyncapi.yaml are generated.

    python -m realtime.close_codes --write

rewrites both; tests/realtime/test_close_codes.py fails when either differs from the enum
(and when docs/protocol.md's close-code table misses one).
"""

import sys
from enum import IntEnum
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JS_PATH = ROOT / "static" / "realtime" / "close-codes.js"
ASYNCAPI_PATH = ROOT / "docs" / "asyncapi.yaml"


class CloseCode(IntEnum):
    """A close code and, in `meaning`, what it tells a client (docs/protocol.md has the table)."""

    def __new__(cls, value, meaning):
        member = int.__new__(cls, value)
        member._value_ = value
        member.meaning = meaning
        return member

    # The process is stopping (restart, deploy): reconnect, to another one, and resume with since.
    GOING_AWAY = 1001, "The server is going away (restart, deploy): reconnect and resume with since."
    # A frame was over REALTIME_MAX_FRAME_BYTES: a client bug; fix it, then reconnect.
    TOO_BIG = 1009, "A frame was larger than REALTIME_MAX_FRAME_BYTES."
    # The connection could not be set up (database or Redis down): reconnect with backoff.
    SERVER_ERROR = 1011, "The server could not set the connection up: reconnect with backoff."
    # The identity is gone or ran out (ticket, logout, rights, expiry): new ticket or log in.
    UNAUTHORIZED = 4401, ("Unauthorized: a bad, used or expired ticket, logged out, deactivated, "
                          "credentials changed, or identity expired: get a new ticket.")
    # No frame for REALTIME_IDLE_TIMEOUT: ping more often, then reconnect.
    IDLE = 4408, "No frame for REALTIME_IDLE_TIMEOUT: ping regularly, reconnect."
    # Flooding past the rate limit, or too many sockets/handshakes from the address: back off.
    FLOOD = 4429, ("Still flooding after rate_limited answers, or too many sockets or handshakes "
                   "from the address: back off longer, then reconnect.")
    # The client did not read what was sent to it: reconnect and resume.
    SLOW_CONSUMER = 4503, "The client did not read what was sent to it: reconnect and resume."


def close_message(code):
    """The ASGI message closing a socket with `code`: a plain int, since autobahn (under
    daphne) refuses any close code whose type is not exactly int, an IntEnum member too."""
    return {"type": "websocket.close", "code": int(code)}


def render_js():
    """static/realtime/close-codes.js as the enum says it."""
    lines = [
        "// GENERATED from realtime/close_codes.py (python -m realtime.close_codes --write): do not edit.",
        "// The WebSocket close codes the server sends; docs/protocol.md says what each asks of a client.",
        "export const CLOSE_CODES = Object.freeze({",
        *(f"  {code.name}: {code.value}," for code in CloseCode),
        "});",
    ]
    return "\n".join(lines) + "\n"


def asyncapi_list():
    """The close codes as docs/asyncapi.yaml lists them (`x-close-codes` of the socket channel)."""
    return [{"code": code.value, "name": code.name, "description": code.meaning} for code in CloseCode]


def write():
    """Rewrites the JS list and docs/asyncapi.yaml (the whole document: it is generated)."""
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    django.setup()
    from realtime.asyncapi import render

    JS_PATH.write_text(render_js())
    ASYNCAPI_PATH.write_text(render())


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m realtime.close_codes --write")
    write()
