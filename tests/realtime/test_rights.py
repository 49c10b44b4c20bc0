"""An open socket's rights follow its user's rights at every moment: password, token,
session, staff flag and permissions changed anywhere (code, REST, the admin) reach the
socket within a second — over real sockets, real Redis and real REST calls."""

import time

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group, Permission
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from chat import services as chat
from feeds.models import Feed
from tests.ws import ProtocolErrorFrame, connect_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]
ORIGIN = "http://localhost:8000"
# "Within a second" of the change's commit.
PROPAGATION_SECONDS = 1.0
# A private topic answers a refused reader like a missing one.
DENIED = ("forbidden", "not_found")


@sync_to_async
def log_in(user):
    client = Client()
    client.force_login(user)
    return client, client.cookies["sessionid"].value


@sync_to_async
def ticket_over(client):
    """A ticket from POST /api/auth/ticket/ made by `client` (session or token)."""
    response = client.post("/api/auth/ticket/")
    assert response.status_code == 200, response.content
    return response.json()["ticket"]


async def closed_within(ws, seconds=PROPAGATION_SECONDS):
    started = time.monotonic()
    code = await ws.close_code(timeout=seconds)
    assert time.monotonic() - started <= seconds
    return code


async def revoked(ws, topic):
    """Waits (within the propagation bound) for subscription.revoked on topic."""
    while True:
        event = await ws.next_event(timeout=PROPAGATION_SECONDS)
        if event.get("event") == "subscription.revoked":
            assert event["topic"] == topic
            return True


async def refused(ws, action, topic, data=None):
    with pytest.raises(ProtocolErrorFrame) as err:
        await ws.request(action, topic, data)
    return err.value.code


@sync_to_async
def save(obj, **fields):
    for name, value in fields.items():
        setattr(obj, name, value)
    obj.save()


async def test_a_password_change_closes_the_old_sessions_sockets_4401_but_not_the_tokens(user, api_as):
    client, session = await log_in(user)
    by_token = await sync_to_async(api_as)(user)
    async with connect_ws(session_cookie=session, origin=ORIGIN) as by_cookie, \
            connect_ws(ticket=await ticket_over(client)) as by_session_ticket, \
            connect_ws(ticket=await ticket_over(by_token)) as by_token_ticket:
        for ws in (by_cookie, by_session_ticket, by_token_ticket):
            await ws.request("subscribe", f"user:{user.pk}")

        @sync_to_async
        def change_password():
            user.set_password("a-new-password")
            user.save()

        await change_password()
        assert await closed_within(by_cookie) == 4401
        assert await closed_within(by_session_ticket) == 4401
        # An API token outlives a password change (as REST's TokenAuthentication says).
        assert "pong" in await by_token_ticket.request("ping")
    # REST agrees: the old session is refused, the token is not.
    assert (await sync_to_async(client.post)("/api/auth/ticket/")).status_code in (401, 403)
    assert (await sync_to_async(by_token.post)("/api/auth/ticket/")).status_code == 200


async def test_deleting_a_token_closes_the_sockets_of_its_tickets_4401(user, make_user):
    token = await sync_to_async(Token.objects.create)(user=user)
    rest = APIClient()
    rest.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    other_client, _ = await log_in(user)
    async with connect_ws(ticket=await ticket_over(rest)) as by_token, \
            connect_ws(ticket=await ticket_over(other_client)) as by_session:
        await by_token.request("ping")
        await by_session.request("ping")
        await sync_to_async(token.delete)()
        assert await closed_within(by_token) == 4401
        assert "pong" in await by_session.request("ping")  # another credential, still good
    assert (await sync_to_async(rest.post)("/api/auth/ticket/")).status_code == 401


async def test_a_demoted_staff_member_loses_a_private_room_at_once(make_user):
    owner = await sync_to_async(make_user)("olga")
    staffer = await sync_to_async(make_user)("sam", is_staff=True)
    room = await sync_to_async(chat.room_create)(creator=owner, slug="secret", name="S", is_private=True)
    message = await sync_to_async(chat.message_create)(room=room, author=owner, body="hush")
    async with connect_ws(staffer) as ws:
        await ws.request("subscribe", "room:secret", {"since": 0})
        await save(staffer, is_staff=False)
        assert await revoked(ws, "room:secret")
        assert await refused(ws, "subscribe", "room:secret", {"since": 0}) in DENIED
        assert await refused(ws, "chat.delete", "room:secret", {"id": message.pk}) in DENIED
        assert await refused(ws, "chat.history", "room:secret") in DENIED
    rest = await sync_to_async(APIClient)()
    await sync_to_async(rest.force_authenticate)(staffer)
    assert (await sync_to_async(rest.get)("/api/rooms/secret/messages/")).status_code == 404


async def _private_feed_reader(make_user, grant):
    reader = await sync_to_async(make_user)("reader")
    await sync_to_async(Feed.objects.create)(slug="ops", title="Ops", is_public=False)
    permission = await sync_to_async(Permission.objects.get)(codename="view_private_feed")
    return reader, permission, await sync_to_async(grant)(reader, permission)


@pytest.mark.parametrize("via", ["user_permissions", "group", "group membership"])
async def test_a_removed_permission_revokes_the_private_feed_and_its_history(make_user, via):
    def grant(reader, permission):
        if via == "user_permissions":
            reader.user_permissions.add(permission)
            return None
        group = Group.objects.create(name="ops-readers")
        group.permissions.add(permission)
        reader.groups.add(group)
        return group

    reader, permission, group = await _private_feed_reader(make_user, grant)
    async with connect_ws(reader) as ws:
        await ws.request("subscribe", "feed:ops", {"since": 0})
        assert "items" in await ws.request("feed.history", "feed:ops")

        @sync_to_async
        def take_away():
            if via == "user_permissions":
                reader.user_permissions.remove(permission)
            elif via == "group":
                group.permissions.remove(permission)
            else:
                group.user_set.remove(reader)

        await take_away()
        assert await revoked(ws, "feed:ops")
        assert await refused(ws, "feed.history", "feed:ops") in DENIED
        assert await refused(ws, "subscribe", "feed:ops", {"since": 0}) in DENIED


def _admin_post_data(form):
    """The admin change form's current values as the browser would post them."""
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if field.disabled or name == "password":
            continue
        if hasattr(field.widget, "widgets"):  # split date/time
            for i, part in enumerate(field.widget.decompress(value)):
                data[f"{name}_{i}"] = "" if part is None else str(part)
        elif isinstance(value, (list, tuple)):
            data[name] = [str(getattr(v, "pk", v)) for v in value]
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = str(value)
    return data


async def test_the_same_changes_made_in_the_admin_reach_the_socket(make_user):
    admin_user = await sync_to_async(make_user)("root", is_staff=True, is_superuser=True)
    owner = await sync_to_async(make_user)("olga")
    staffer = await sync_to_async(make_user)("sam", is_staff=True)
    await sync_to_async(chat.room_create)(creator=owner, slug="secret", name="S", is_private=True)
    browser = Client()
    await sync_to_async(browser.force_login)(admin_user)
    url = f"/admin/accounts/user/{staffer.pk}/change/"

    @sync_to_async
    def demote_in_admin():
        page = browser.get(url)
        data = _admin_post_data(page.context["adminform"].form)
        data.pop("is_staff", None)  # the unticked box
        response = browser.post(url, data)
        assert response.status_code == 302, response.content[:2000]

    async with connect_ws(staffer) as ws:
        await ws.request("subscribe", "room:secret")
        await demote_in_admin()
        assert await revoked(ws, "room:secret")
        assert await refused(ws, "subscribe", "room:secret") in DENIED


async def test_deleting_a_session_closes_the_sockets_on_it_4401(user):
    from django.contrib.sessions.models import Session

    _, session = await log_in(user)
    async with connect_ws(session_cookie=session, origin=ORIGIN) as ws:
        await ws.request("ping")
        await sync_to_async(lambda: Session.objects.get(session_key=session).delete())()
        assert await closed_within(ws) == 4401


async def announced_here(user_id, deadline=PROPAGATION_SECONDS):
    """Polls until this process's hub has seen a change announcement for user_id."""
    import asyncio

    from realtime.hub import get_hub

    hub = await get_hub()
    until = time.monotonic() + deadline
    while user_id not in hub.user_changed:
        assert time.monotonic() < until, "the change was not announced"
        await asyncio.sleep(0.01)


async def test_a_ticket_issued_before_a_demotion_opens_a_socket_with_the_new_rights(make_user):
    owner = await sync_to_async(make_user)("olga")
    staffer = await sync_to_async(make_user)("sam", is_staff=True)
    await sync_to_async(chat.room_create)(creator=owner, slug="secret", name="S", is_private=True)
    rest = APIClient()
    await sync_to_async(rest.force_authenticate)(staffer)
    stale = await ticket_over(rest)  # its snapshot says is_staff
    async with connect_ws(owner) as ws:  # a hub in this loop, listening
        await ws.request("ping")
        await save(staffer, is_staff=False)
        await announced_here(staffer.pk)  # before the late socket exists to receive it
        async with connect_ws(ticket=stale) as late:
            assert await refused(late, "subscribe", "room:secret") in DENIED
