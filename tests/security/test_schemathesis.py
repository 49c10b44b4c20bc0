"""schemathesis against our own OpenAPI schema (GET /api/schema/), in process through
Django's WSGI app, authenticated with a staff user's token: no 500s, and every response
has a documented status, and its body and content type are the documented ones.

Each operation runs twice per generated case: as generated (random slugs and ids: the
404/400 paths) and with its path parameters pointed at real objects the staff user owns
(so the 2xx bodies are checked too).  The quick run is part of `make test`; the long one
(`-m faults`) generates many more cases.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# Every status an operation answers is documented (project.openapi adds each error status
# with the one error body), and every body matches what its status documents.
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance,
          content_type_conformance]
# Cases per operation: ~20 operations x 2 calls each stays well under a minute.
QUICK_EXAMPLES = 8
LONG_EXAMPLES = 200
# Operations left out, each with why.
EXCLUDED = {
    # path regex: why
    r"/export\.svg$": "an SVG document, not JSON; tests/whiteboard checks it renders and escapes text",
}
_EXCLUDE_REGEX = "|".join(EXCLUDED)
_SETTINGS = dict(deadline=None, derandomize=True, database=None,
                 suppress_health_check=list(HealthCheck))


def _load_schema():
    """Loaded at import (collection): generating the schema reads no database."""
    from django.core.wsgi import get_wsgi_application

    return schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


schema = _load_schema()


@pytest.fixture
def wsgi_requests(db):
    """The real WSGI handler, made safe inside a test transaction."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    # As Django's test client does: the handler would otherwise close the test's database
    # connection (inside its transaction) after every request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def real_objects(wsgi_requests, make_user):
    """A staff user with a token, who owns a room (with a board and messages) and a feed
    with an item: path parameters are pointed at these for the second call of each case."""
    from rest_framework.authtoken.models import Token

    from chat import services as chat
    from feeds import services as feeds

    staff = make_user("st-staff", is_staff=True, is_superuser=True)
    room = chat.room_create(creator=staff, slug="st-room", name="ST room")
    message = chat.message_create(room=room, author=staff, body="hello", client_id="st-1")
    feed = feeds.feed_create(slug="st-feed", title="ST feed")
    return {"token": Token.objects.create(user=staff).key,
            "path": {"slug": room.slug, "message_id": message.pk, "user_id": staff.pk},
            "feed": feed.slug}


def _known_path(case, objects):
    path = dict(objects["path"])
    if case.path.startswith("/api/feeds/"):
        path["slug"] = objects["feed"]
    return {name: path.get(name, value) for name, value in (case.path_parameters or {}).items()}


def _run(case, objects):
    headers = {"Authorization": f"Token {objects['token']}"}
    case.call_and_validate(headers=headers, checks=CHECKS)
    if case.path_parameters:
        case.path_parameters = _known_path(case, objects)
        case.call_and_validate(headers=headers, checks=CHECKS)


@schema.exclude(path_regex=_EXCLUDE_REGEX).parametrize()
@settings(max_examples=QUICK_EXAMPLES, **_SETTINGS)
def test_every_operation_answers_without_500_and_as_documented(case, real_objects):
    _run(case, real_objects)


@pytest.mark.faults
@schema.exclude(path_regex=_EXCLUDE_REGEX).parametrize()
@settings(max_examples=LONG_EXAMPLES, **_SETTINGS)
def test_every_operation_long_run(case, real_objects):
    _run(case, real_objects)

