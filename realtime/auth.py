"""Connection authentication: the origin policy and single-use connect tickets (the
session-cookie user is realtime.sessions).

Origin policy (cross-site WebSocket hijacking): a foreign Origin is refused at the
handshake; a missing Origin (scripts, apps) is accepted only with a ticket, never on a
session cookie alone.  Browsers always send Origin, so that closes the hijacking path
without locking out non-browser clients (channels' stock validator refuses them all).
"""

import functools
import secrets
from urllib.parse import parse_qs, urlsplit

import orjson
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS
from django.http.request import is_same_domain, validate_host

from realtime.redis import batched, sync_client

TICKET_PREFIX = "sb:ticket:"
# A user's outstanding tickets, so logout or deactivation can void them before they expire.
USER_TICKETS_PREFIX = "sb:user-tickets:"
# The user fields a ticket carries: enough for the socket's user without a database read
# at connect (a connect storm's cost); any other field loads lazily, as with .only().
TICKET_USER_FIELDS = ("is_staff", "is_superuser")


def issue_ticket(user, credential=None):
    """A single-use connect ticket for `user`, valid REALTIME_TICKET_TTL seconds.

    The ticket's value is a snapshot of the user (id, username, display name, flags), so
    redeeming it is one Redis GETDEL and no database read; it is voided with the user's
    other tickets by revoke_tickets() on logout or deactivation.  `credential`: what the
    ticket was issued over (realtime.session_auth.ticket_credential: digests, never the
    token or session key), so its socket closes when that credential stops holding."""
    ticket = secrets.token_urlsafe(24)
    value = user_snapshot(user)
    if credential:
        value.update(credential)
    ttl = settings.REALTIME_TICKET_TTL
    pipe = sync_client().pipeline(transaction=False)
    pipe.set(TICKET_PREFIX + ticket, orjson.dumps(value), ex=ttl)
    pipe.sadd(USER_TICKETS_PREFIX + str(user.pk), ticket)
    pipe.expire(USER_TICKETS_PREFIX + str(user.pk), ttl)
    pipe.execute()
    return ticket


def user_snapshot(user):
    """What a ticket (or a session snapshot) carries of a user: public_info and the flags
    of TICKET_USER_FIELDS; user_from_ticket() makes a user of it again."""
    value = public_info(user)
    for name in TICKET_USER_FIELDS:
        value[name] = bool(getattr(user, name, False))
    return value


# The JSON Schema of public_info's dict: the one user shape of every event and API body
# (realtime.USER_SCHEMA; tests/test_wire_shapes.py checks the OpenAPI `User` against it).
USER_SCHEMA = {
    "type": "object",
    "required": ["id", "username", "display_name"],
    "properties": {"id": {"type": "integer"}, "username": {"type": "string"},
                   "display_name": {"type": "string"}},
}


def public_info(user):
    """{id, username, display_name} (USER_SCHEMA): the one public form of a user, in
    presence, socket replies, events and REST bodies alike (realtime.public_user)."""
    return {"id": user.pk, "username": user.get_username(),
            "display_name": getattr(user, "get_display_name", user.get_username)()}


def revoke_tickets(user_id):
    """Voids every outstanding ticket of a user (called on logout and deactivation, before
    their sockets are closed, so none of them can open a new one)."""
    client = sync_client()
    key = USER_TICKETS_PREFIX + str(user_id)
    # Read and drop the set in one MULTI: a ticket issued between a separate read and
    # delete would have lost its entry and outlived this revocation.
    pipe = client.pipeline(transaction=True)
    pipe.smembers(key)
    pipe.delete(key)
    tickets, _ = pipe.execute()
    if tickets:
        client.delete(*(TICKET_PREFIX + ticket.decode() for ticket in tickets))


async def redeem_ticket(ticket):
    """The user snapshot a ticket was issued for ({"id", "username", "display_name", ...}),
    or None; a ticket works once (GETDEL).  A ticket holding a bare user id (issued by an
    older release during a deploy) gives {"id": N, "legacy": True}: load that user."""
    if not ticket or len(ticket) > 100:
        return None
    value = await batched().execute("GETDEL", TICKET_PREFIX + ticket)
    if not value:
        return None
    if value.isdigit():
        return {"id": int(value), "legacy": True}
    return orjson.loads(value)


def user_from_ticket(info):
    """The user a ticket snapshot describes, as a model instance built without a query
    (like a row of .only(...)): other fields load on first access."""
    from django.contrib.auth import get_user_model

    model = get_user_model()
    fields = _field_names(model)
    values = {"id": info["id"], model.USERNAME_FIELD: info["username"], "is_active": True}
    if "display_name" in fields:
        values["display_name"] = info.get("display_name", "")
    for name in TICKET_USER_FIELDS:
        values[name] = bool(info.get(name, False))
    names = [name for name in fields if name in values]
    return model.from_db(DEFAULT_DB_ALIAS, names, [values[n] for n in names])


@functools.cache
def _field_names(model):
    """A model's concrete field attnames, in order (asked once per process, not per socket)."""
    return tuple(f.attname for f in model._meta.concrete_fields)


def ticket_from_scope(scope):
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    values = query.get("ticket")
    return values[0] if values else None


def origin_from_scope(scope):
    for name, value in scope.get("headers", []):
        if name == b"origin":
            return value.decode("latin-1")
    return None


def origin_allowed(origin):
    """Whether a browser Origin belongs to this site (ALLOWED_HOSTS or CSRF_TRUSTED_ORIGINS)."""
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    parsed = urlsplit(origin)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return False
    host = parsed.hostname
    return validate_host(host, settings.ALLOWED_HOSTS) or any(
        is_same_domain(host, pattern) for pattern in settings.ALLOWED_HOSTS
    )
