"""A socket's identity over its lifetime: the credential it stands on, changes to its user
reaching it within a second, its maximum age and `auth.refresh`.

A socket opens with a user snapshot (a ticket's, or a session snapshot's: no database read
per connect, docs/performance.md) and the credential it came from:
  * ("s", digest of the session key, the raw key or None, digest of the session's auth
    hash or None) — a session cookie (raw key, kept in memory only) or a ticket issued
    over a session (digests only: Redis never holds a credential);
  * ("t", digest of the API token's key) — a ticket issued over a token;
  * None — anonymous, or a ticket from an older release.

Any change to a user (realtime.signals, accounts.signals) is announced on commit to every
server process (control.rights_changed).  Each process then, once per change and shared by
all that user's local sockets: clears their authorization caches at once, holds their
next frames, reloads the user and checks each distinct credential in one worker thread
(check_user), closes 4401 the sockets whose credential no longer holds, gives the others
the fresh user and re-authorizes every subscription (`subscription.revoked` when refused).

Identity expires REALTIME_AUTH_MAX_AGE after connect (or at the ticket's session expiry,
if sooner): the hub's heartbeat sweep (no timer per socket) sends `auth.expired` and closes
4401 unless the client sent `auth.refresh {ticket}` for the same user before then.
"""

import asyncio
import hashlib
import logging
import time

from django.conf import settings

from realtime import errors, store
from realtime.auth import public_info, redeem_ticket, user_from_ticket
from realtime.close_codes import CloseCode

logger = logging.getLogger("realtime.session_auth")

# A socket whose user changed this long before its consumer started is re-checked once
# joined: its ticket (issued up to REALTIME_TICKET_TTL earlier) or session snapshot (read
# just before the consumer starts; a resolution waits at most the 5 s database pool
# timeout) may predate the change, whose announcement found no socket to act on.
RESOLVE_SLACK_SECONDS = 10.0


def digest(secret):
    """How a credential is named outside the process holding it (never the secret)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:40]


# --- credentials --------------------------------------------------------------------
def ticket_credential(request):
    """Called by the ticket view: the fields a ticket carries about the credential it was
    issued over (realtime.auth.issue_ticket stores them beside the user snapshot)."""
    from django.contrib.auth import HASH_SESSION_KEY

    key = getattr(request.auth, "key", None)  # DRF TokenAuthentication's Token
    if isinstance(key, str) and key:
        return {"cred": "t", "tid": digest(key)}
    session = getattr(request, "session", None)
    session_key = getattr(session, "session_key", None)
    if session_key:
        session_hash = session.get(HASH_SESSION_KEY) or ""
        return {"cred": "s", "sid": digest(session_key), "sah": digest(session_hash),
                "exp": int(session.get_expiry_age())}
    return {}


def credential_from_ticket(info):
    if info.get("cred") == "t":
        return ("t", info.get("tid"))
    if info.get("cred") == "s":
        return ("s", info.get("sid"), None, info.get("sah"))
    return None


# A session-cookie socket's credential until first needed: the cookie is parsed (and its
# digest taken) only when the user changes, not in every connect of a storm.
COOKIE = ("cookie",)


def credential(conn):
    """conn's credential tuple (see the module docstring), resolving COOKIE from its scope."""
    cred = conn.cred
    if cred is COOKIE:
        from realtime.endpoint import _session_key

        key = _session_key(conn.scope)
        cred = conn.cred = ("s", digest(key), key, None) if key else None
    return cred


def expires_at(info=None):
    """Monotonic time a socket's identity expires: REALTIME_AUTH_MAX_AGE from now, or the
    session's own expiry when a ticket says it comes sooner."""
    age = settings.REALTIME_AUTH_MAX_AGE
    if info and isinstance(info.get("exp"), int):
        age = min(age, info["exp"])
    return time.monotonic() + age


def expires_in(conn):
    """Whole seconds left of a socket's identity (None when anonymous)."""
    if conn.auth_expires is None:
        return None
    return max(0, int(conn.auth_expires - time.monotonic()))


def check_user(user_id, credentials):
    """(the user as the database has it now, or None when gone or inactive; the subset of
    `credentials` that no longer hold).  Sync: runs in a worker thread (store.run_sync)."""
    from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.utils.crypto import constant_time_compare

    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return None, set(credentials)
    bad = set()
    token = None
    for cred in credentials:
        if cred[0] == "t":
            if token is None:
                token = _token_digest(user_id)
            if token != cred[1]:
                bad.add(cred)
        elif cred[0] == "s":
            if cred[2] is not None:  # a session cookie: what get_user() would check
                data = _session_data(cred[2])
                ok = str(data.get(SESSION_KEY)) == str(user_id) and constant_time_compare(
                    data.get(HASH_SESSION_KEY) or "", user.get_session_auth_hash())
            else:  # a session's ticket: its deletion is announced with its digest
                ok = cred[3] == digest(user.get_session_auth_hash())
            if not ok:
                bad.add(cred)
    return user, bad


def _token_digest(user_id):
    from rest_framework.authtoken.models import Token

    key = Token.objects.filter(user_id=user_id).values_list("key", flat=True).first()
    return digest(key) if key else ""


def _session_data(session_key):
    from importlib import import_module

    engine = import_module(settings.SESSION_ENGINE)
    return engine.SessionStore(session_key).load()  # {} when gone or expired


# --- change announcements (called by the hub) ----------------------------------------
def rights_changed(hub, user_id, gone=()):
    """The hub got rt.rights_changed: closes the sockets on a gone credential at once and
    starts (or queues) the one re-check of the user's other local sockets."""
    hub.user_changed[user_id] = time.monotonic()
    local = hub.users.get(user_id)
    if not local:
        return
    for conn in list(local.values()):
        hub.authorizer.revoke(conn)
        cred = credential(conn)
        if cred is not None and cred[1] in gone:
            conn.close(CloseCode.UNAUTHORIZED)
    recheck_soon(hub, user_id)


def recheck_soon(hub, user_id):
    """Re-checks a user's local sockets once; a change arriving during a re-check runs it
    again afterwards (the read in flight may predate that change)."""
    state = hub.rechecking.get(user_id)
    if state is not None:
        state["again"] = True
        return
    state = hub.rechecking[user_id] = {"again": True,
                                       "done": asyncio.get_running_loop().create_future()}
    asyncio.ensure_future(_recheck_loop(hub, user_id, state))


def changed_recently(hub, conn):
    """Whether conn's user changed so shortly before it started that its snapshot may be
    older than the change (see RESOLVE_SLACK_SECONDS)."""
    changed = hub.user_changed.get(conn.user_id)
    window = settings.REALTIME_TICKET_TTL + RESOLVE_SLACK_SECONDS
    return changed is not None and changed >= conn.started - window


def prune_changes(hub, now):
    """Forgets change times too old to matter to a connect (heartbeat)."""
    horizon = now - settings.REALTIME_TICKET_TTL - 2 * RESOLVE_SLACK_SECONDS
    if hub.user_changed:
        hub.user_changed = {uid: at for uid, at in hub.user_changed.items() if at >= horizon}


async def wait_for_recheck(conn):
    """Called before every frame's checks: a frame arriving while its user is re-checked
    waits for the fresh user (never judged against the stale one)."""
    state = conn.hub.rechecking.get(conn.user_id)
    if state is not None:
        await asyncio.shield(state["done"])
    if conn.closing:
        raise errors.Unauthenticated("This connection's credentials are no longer valid.")


async def _recheck_loop(hub, user_id, state):
    try:
        while state["again"]:
            state["again"] = False
            try:
                await _recheck(hub, user_id)
            except Exception:
                # The database is unreachable: the socket cannot be vouched for.
                logger.exception("re-checking user %s failed; closing their sockets", user_id)
                for conn in list(hub.users.get(user_id, {}).values()):
                    conn.close(CloseCode.UNAUTHORIZED)
    finally:
        if hub.rechecking.get(user_id) is state:
            del hub.rechecking[user_id]
        state["done"].set_result(None)


async def _recheck(hub, user_id):
    conns = list(hub.users.get(user_id, {}).values())
    credentials = {credential(conn) for conn in conns} - {None}
    if not conns:
        return
    user, bad = await store.run_sync(check_user, user_id, credentials)
    for conn in list(hub.users.get(user_id, {}).values()):
        if user is None or conn.cred in bad:
            conn.close(CloseCode.UNAUTHORIZED)
            continue
        conn.user, conn.user_info = user, public_info(user)
        hub.authorizer.revoke(conn)
        for topic in list(conn.subs):
            await hub.control.recheck_subscription(conn, topic)


# --- expiry and auth.refresh ---------------------------------------------------------
def expire(conn):
    """Called by the heartbeat sweep for a socket whose identity ran out without an
    auth.refresh: an `auth.expired` event (the client reconnects rather than going to log
    in), then close 4401."""
    from realtime.publish import direct_frame

    if not conn.closing:
        conn.send_frame(direct_frame(None, "auth.expired", {}))
        conn.close(CloseCode.UNAUTHORIZED)


async def auth_refresh(request):
    """auth.refresh {ticket}: renews the socket's identity with a fresh ticket of the same
    user, keeping its subscriptions and positions.  Another user's ticket is refused and
    changes nothing (the ticket is spent either way)."""
    conn = request.connection
    ticket = request.data.get("ticket")
    if not isinstance(ticket, str) or not ticket:
        raise errors.Invalid("ticket must be a ticket string from POST /api/auth/ticket/.",
                             field="data.ticket")
    started = time.monotonic()
    info = await redeem_ticket(ticket)
    if info is None:
        raise errors.Unauthenticated("The ticket is unknown, used or expired.", field="data.ticket")
    if info.get("id") != conn.user_id:
        raise errors.Forbidden("The ticket is for another user.", field="data.ticket")
    if info.get("legacy"):
        user = await store.run_sync(store.load_user, info["id"])
        if user is None:
            raise errors.Unauthenticated("The ticket's user is gone.", field="data.ticket")
    else:
        user = user_from_ticket(info)
    conn.user, conn.user_info = user, public_info(user)
    conn.cred = credential_from_ticket(info)
    conn.auth_expires = expires_at(info)
    conn.hub.authorizer.revoke(conn)
    changed = conn.hub.user_changed.get(conn.user_id)
    if changed is not None and changed >= started - settings.REALTIME_TICKET_TTL - RESOLVE_SLACK_SECONDS:
        recheck_soon(conn.hub, conn.user_id)  # the ticket's snapshot may predate a change
    return {"auth_expires_in": expires_in(conn)}
