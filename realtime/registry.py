"""The explicit registries of topic kinds and socket actions.

Apps fill them from their `<app>/realtime.py`, imported once by their AppConfig.ready(),
through the public names in `realtime` (register_topic_kind, register_action,
register_event); the consumer only ever dispatches to what is registered here, never on a
string the client chose (an unregistered action is `unknown_action`, an unregistered topic
kind `unknown_topic`).

Example (chat/realtime.py)::

    register_topic_kind("room", authorize=permissions.authorize_topic, presence=True)
    register_action("chat.send", handlers.send, topic_kinds=("room",), access="write")
"""

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs

from realtime.errors import Invalid, UnknownTopic

# kind:key; the key is what an app uses to look its object up (a slug, an id).
TOPIC_RE = re.compile(r"^(?P<kind>[a-z][a-z0-9_]{0,31}):(?P<key>[A-Za-z0-9][A-Za-z0-9_.\-]{0,99})$")
ACTION_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
ACCESS = ("read", "write")


@dataclass(frozen=True)
class TopicKind:
    name: str
    # authorize(user, key, access) -> bool.  Sync, runs in a worker thread with ORM
    # access; may raise NotFound.  `access` is "read" (subscribe, history) or "write".
    authorize: Callable[[Any, str, str], bool]
    # Whether subscribers are tracked in presence (presence.join/leave, presence list).
    presence: bool = False
    # Whether an anonymous connection may even ask authorize() for read access.
    anonymous_read: bool = False
    # public_read(key) -> bool, optional: True when anyone may read the topic (a public
    # room).  Sync, ORM allowed.  A True answer is shared by every connection of the
    # process for REALTIME_PUBLIC_TOPIC_CACHE_SECONDS (a subscribe storm on one topic costs
    # one query) and dropped at once when the topic is reauthorized (realtime.reauthorize).
    public_read: Callable[[str], bool] | None = None


@dataclass(frozen=True)
class Action:
    name: str
    # Sync handler(request) -> reply data (runs in a worker thread, may use the ORM), or an
    # async one (runs on the event loop: no ORM; for ephemeral actions like cursors).
    handler: Callable
    is_async: bool = False
    # Topic kinds the action accepts; empty means the action takes no topic.
    topic_kinds: tuple = ()
    access: str = "write"
    # Whether the connection must be subscribed to the topic first (ephemeral actions:
    # authorization is then the cached read check plus a cached write check).
    requires_subscription: bool = False
    # Whether an anonymous connection may call it at all.
    allow_anonymous: bool = False
    # One-line description for docs/protocol.md (its completeness test reads names).
    doc: str = ""
    builtin: bool = False
    # Whether a socket's requests of this action may run while its earlier ones are still
    # in flight (realtime/inflight.py; replies stay in request order).  For writes that are
    # independent and batched (chat.send); others wait until those in flight are done.
    concurrent: bool = False
    # Whether the topic's authorization is asked afresh on every call instead of from the
    # connection's cache (subscribe: rights may have changed since the last one).
    fresh_authorization: bool = False


@dataclass
class ActionRequest:
    """What a handler gets: the parsed, authenticated, authorized frame."""

    action: str
    request_id: Any
    topic: str | None
    kind: str | None
    key: str | None
    data: dict
    user: Any
    connection_id: str
    # Per-connection scratch space for handlers (e.g. a cursor's last-forwarded time).
    state: dict = field(default_factory=dict)
    # The live connection (built-in actions only; app handlers use the fields above).
    connection: Any = None

    @property
    def user_info(self):
        """{id, username, display_name} of the caller, or None when anonymous."""
        if not getattr(self.user, "is_authenticated", False):
            return None
        get_name = getattr(self.user, "get_display_name", None)
        return {"id": self.user.pk, "username": self.user.get_username(),
                "display_name": get_name() if get_name else self.user.get_username()}


topic_kinds: dict[str, TopicKind] = {}
actions: dict[str, Action] = {}
# event name -> (JSON schema of its data, one-line doc).  publish() refuses an unregistered
# event and checks data against the schema in every configuration; the suite fails when a
# registered event is never published by any test (tests/conftest.py).
events: dict[str, tuple] = {}
# Events another system may publish through POST /api/publish/ (register_event's
# api_publishable): app-neutral kinds only.  An app's own events (chat.message, board.cursor,
# presence...) carry facts only that app may state, so they never come from outside.
api_publishable_events: set = set()
# event name -> its schema compiled once (jsonschema_rs, Rust): every publish checks its data,
# so the check sits on the hot path, and a compiled Rust validator is the cheapest there is;
# jsonschema.validate() would even re-check the schema itself on every call.
_validators: dict = {}
# Events published so far in this process (read by the test suite's coverage check).
published_events: set = set()


def register_event(name, schema, *, doc="", api_publishable=False):
    """Registers an event kind (from an app's `<app>/realtime.py`): its data is checked
    against `schema` on every publish, in every configuration (there is no switch).
    `api_publishable=True` lets staff and holders of realtime.publish_event send it through
    POST /api/publish/; leave it False for events that state an app's facts (a message, a
    shape, a presence change)."""
    if not ACTION_RE.match(name):
        raise ValueError(f"bad event name {name!r}")
    if name in events:
        raise ValueError(f"event {name!r} registered twice")
    _validators[name] = jsonschema_rs.validator_for(schema)  # a bad schema fails at start-up
    events[name] = (schema, doc)
    if api_publishable:
        api_publishable_events.add(name)


def event_data_error(name, data):
    """The first reason `data` does not match event `name`'s schema, or None when it does.
    The event must be registered (KeyError otherwise)."""
    validator = _validators[name]
    if validator.is_valid(data):
        return None
    try:
        validator.validate(data)
    except jsonschema_rs.ValidationError as exc:
        path = "/".join(str(part) for part in exc.instance_path)
        return f"{exc.message} (at data/{path})" if path else exc.message
    return "does not match its schema"


def check_event(name, data):
    """Called by every publish path (realtime.publish) before anything is written or sent:
    raises ValueError for an unregistered event or data that does not match its schema, in
    every configuration (a forged or malformed event never reaches a client)."""
    if name not in events:
        raise ValueError(f"event {name!r} is not registered (realtime.registry.register_event)")
    problem = event_data_error(name, data)
    if problem is not None:
        raise ValueError(f"event {name!r} data does not match its schema: {problem}")
    published_events.add(name)


def register_topic_kind(name, *, authorize, presence=False, anonymous_read=False, public_read=None):
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", name):
        raise ValueError(f"bad topic kind name {name!r}")
    if name in topic_kinds:
        raise ValueError(f"topic kind {name!r} registered twice")
    topic_kinds[name] = TopicKind(name, authorize, presence, anonymous_read, public_read)


def register_action(name, handler, *, topic_kinds=(), access="write", requires_subscription=False,
                    allow_anonymous=False, is_async=None, doc="", builtin=False, concurrent=False,
                    fresh_authorization=False):
    import inspect

    if not ACTION_RE.match(name):
        raise ValueError(f"bad action name {name!r}")
    if name in actions:
        raise ValueError(f"action {name!r} registered twice")
    if access not in ACCESS:
        raise ValueError(f"access must be one of {ACCESS}")
    if is_async is None:
        is_async = inspect.iscoroutinefunction(handler)
    if not is_async:
        handler = _in_action_pool(handler)
    actions[name] = Action(name, handler, is_async, tuple(topic_kinds), access,
                           requires_subscription, allow_anonymous, doc, builtin, bool(concurrent),
                           bool(fresh_authorization))


def _in_action_pool(handler):
    """The sync handler, marked to run in realtime.store's ACTIONS pool (not the pool the
    hub's outbox reads use: a queue of writes must not delay deliveries)."""
    @functools.wraps(handler)
    def run(request):
        return handler(request)

    run.realtime_pool = "actions"  # realtime.store.ACTIONS (not imported: models load late)
    return run


def parse_topic(topic):
    """(kind, key) of a topic name, or raises Invalid / UnknownTopic."""
    if not isinstance(topic, str):
        raise Invalid("topic must be a string like 'room:lobby'.", field="topic")
    match = TOPIC_RE.match(topic)
    if not match:
        raise Invalid("topic must look like 'kind:key' (e.g. 'room:lobby').", field="topic")
    kind = match["kind"]
    if kind not in topic_kinds:
        raise UnknownTopic(f"No topic kind {kind!r}.", field="topic")
    return kind, match["key"]


def topic_group(topic):
    """The channel-layer group a topic's events are sent to (one per process, see hub)."""
    return "t." + topic
