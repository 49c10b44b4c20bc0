"""The topic authorizer (realtime/authorizer.py) driven directly: per connection it asks a
topic's hook once per cache period and forgets on revoke/forget/drop; per process a public
topic's answer is shared by every connection until the topic's rules change."""

import pytest

from realtime import errors, registry
from realtime.authorizer import Authorizer

pytestmark = [pytest.mark.django_db(transaction=True)]


class Conn:
    """A connection as the authorizer sees it."""

    def __init__(self, conn_id, user_id=7):
        self.id, self.user_id, self.user, self.closing = conn_id, user_id, object(), False


@pytest.fixture
def hooks():
    """A topic kind `guarded:<key>`: authorize answers from `allowed`, public_read from
    `public`; both record their calls."""
    state = {"allowed": True, "public": False, "authorize": [], "public_read": []}

    def authorize(user, key, access):
        state["authorize"].append((key, access))
        return state["allowed"]

    def public_read(key):
        state["public_read"].append(key)
        return state["public"]

    registry.register_topic_kind("guarded", authorize=authorize, public_read=public_read,
                                 anonymous_read=True)
    yield state
    registry.topic_kinds.pop("guarded", None)


async def test_an_answer_is_cached_per_connection_until_revoked(hooks):
    authorizer, conn = Authorizer(), Conn("c1")
    await authorizer.check(conn, "guarded:a", "guarded", "a", "write")
    hooks["allowed"] = False
    await authorizer.check(conn, "guarded:a", "guarded", "a", "write")  # cached: allowed
    assert hooks["authorize"] == [("a", "write")]
    authorizer.revoke(conn)
    with pytest.raises(errors.Forbidden):
        await authorizer.check(conn, "guarded:a", "guarded", "a", "write")
    assert len(hooks["authorize"]) == 2


async def test_a_denial_is_cached_and_a_fresh_check_asks_again(hooks):
    authorizer, conn = Authorizer(), Conn("c1")
    hooks["allowed"] = False
    for _ in range(2):
        with pytest.raises(errors.Forbidden):
            await authorizer.check(conn, "guarded:a", "guarded", "a", "write")
    assert len(hooks["authorize"]) == 1
    hooks["allowed"] = True
    await authorizer.check(conn, "guarded:a", "guarded", "a", "write", fresh=True)
    assert len(hooks["authorize"]) == 2


async def test_forget_drops_only_the_write_answer_of_that_topic(hooks):
    authorizer, conn = Authorizer(), Conn("c1")
    for access in ("read", "write"):
        await authorizer.check(conn, "guarded:a", "guarded", "a", access)
    authorizer.forget(conn, "guarded:a")
    for access in ("read", "write"):
        await authorizer.check(conn, "guarded:a", "guarded", "a", access)
    assert [access for _, access in hooks["authorize"]] == ["read", "write", "write"]


async def test_a_closing_or_dropped_connection_keeps_nothing(hooks):
    authorizer, conn = Authorizer(), Conn("c1")
    await authorizer.check(conn, "guarded:a", "guarded", "a", "write")
    authorizer.drop(conn)
    conn.closing = True
    await authorizer.check(conn, "guarded:a", "guarded", "a", "write")
    assert authorizer.grants == {}


async def test_a_public_answer_is_shared_by_every_connection_until_the_topic_changes(hooks):
    authorizer = Authorizer()
    hooks["public"] = True
    for conn_id in ("c1", "c2", "c3"):
        await authorizer.check(Conn(conn_id), "guarded:p", "guarded", "p", "read")
    assert hooks["public_read"] == ["p"] and hooks["authorize"] == []
    authorizer.topic_changed("guarded:p")  # made private
    hooks["public"], hooks["allowed"] = False, False
    with pytest.raises(errors.Forbidden):
        await authorizer.check(Conn("c4"), "guarded:p", "guarded", "p", "read")
    assert hooks["public_read"] == ["p", "p"]


async def test_a_public_answer_asked_before_the_topic_changed_is_not_cached(hooks):
    authorizer = Authorizer()
    asking = authorizer.ask_public("guarded:p")
    authorizer.topic_changed("guarded:p")  # arrives while the question is in flight
    authorizer.answer_public("guarded:p", asking, True)
    assert not await authorizer.known_public("guarded:p")


async def test_anonymous_connections_may_not_write(hooks):
    authorizer = Authorizer()
    with pytest.raises(errors.Forbidden):
        await authorizer.check(Conn("c1", user_id=None), "guarded:a", "guarded", "a", "write")
    assert hooks["authorize"] == []
