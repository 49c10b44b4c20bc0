"""The protocol's frames as text: the one encoder and decoder every part of the library uses
(the raw core, `Client`), and the request frame of docs/protocol.md.

orjson is a dependency of the package and the fast path: decoding a typical event frame is
the largest per-frame cost of a reading client.  The standard library's json is the fallback
for an environment where orjson cannot be installed; both give the same dicts.
"""

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is declared; this keeps a bare install working
    orjson = None
    import json

from switchboard_client import errors

if orjson is not None:
    _loads = orjson.loads

    def encode(frame):
        """A frame (dict) as the JSON text sent; a str is sent as it is (raw tests)."""
        return frame if frame.__class__ is str else orjson.dumps(frame).decode()
else:  # pragma: no cover
    _loads = json.loads
    _dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

    def encode(frame):
        """A frame (dict) as the JSON text sent; a str is sent as it is (raw tests)."""
        return frame if frame.__class__ is str else _dumps(frame)


def decode(text):
    """A received text (or bytes) frame as a dict.  The server only sends JSON objects;
    anything else comes back as {"type": "invalid", "text": text} for a test to see."""
    try:
        frame = _loads(text)
    except ValueError:  # orjson.JSONDecodeError and json.JSONDecodeError are ValueErrors
        return {"type": "invalid", "text": text}
    if frame.__class__ is dict:
        return frame
    return {"type": "invalid", "text": text}


def request_frame(action, request_id, topic=None, data=None):
    """The protocol's request frame (docs/protocol.md)."""
    frame = {"action": action, "request_id": request_id, "data": data or {}}
    if topic is not None:
        frame["topic"] = topic
    return frame


def is_answer(frame, request_id):
    """True for the reply or error frame answering `request_id` (exactly one comes)."""
    return frame.get("request_id") == request_id and frame.get("type") in ("reply", "error")


def reply_result(frame):
    """A reply frame's data; an error frame raised as its typed ProtocolError."""
    if frame.get("type") == "error":
        raise errors.ProtocolError.from_payload(frame.get("error"))
    return frame.get("data")
