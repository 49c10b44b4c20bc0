"""The HTML pages through Django's test client: access rules, accessible names, and that
user-supplied text reaches the page escaped (in the HTML and in the json_script data)."""

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from chat.models import Room, RoomMembership

pytestmark = pytest.mark.django_db
STATIC = Path(__file__).resolve().parents[2] / "static"
XSS = '<img src=x onerror="alert(1)">'


class Page(HTMLParser):
    """Elements as (tag, attrs) plus label texts by their `for` id."""

    def __init__(self, html):
        super().__init__()
        self.elements, self.labels, self.scripts = [], {}, {}
        self._label = None
        self._script = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.elements.append((tag, attrs))
        if tag == "label":
            self._label = [attrs.get("for"), ""]
        if tag == "script" and attrs.get("id"):
            self._script = [attrs["id"], ""]

    def handle_endtag(self, tag):
        if tag == "label" and self._label:
            self.labels[self._label[0]] = self._label[1].strip()
            self._label = None
        if tag == "script" and self._script:
            self.scripts[self._script[0]] = self._script[1]
            self._script = None

    def handle_data(self, data):
        if self._label:
            self._label[1] += data
        if self._script:
            self._script[1] += data

    def find(self, tag, **attrs):
        return [a for t, a in self.elements if t == tag and all(a.get(k) == v for k, v in attrs.items())]

    def data(self):
        return json.loads(self.scripts["page-data"])


def page_of(response):
    assert response.status_code == 200, response.status_code
    return Page(response.content.decode())


@pytest.fixture
def lobby(user):
    room = Room.objects.create(slug="lobby", name="Lobby", description="Say hello", created_by=user)
    RoomMembership.objects.create(room=room, user=user, role=RoomMembership.OWNER)
    return room


@pytest.fixture
def secret(make_user):
    owner = make_user("owner")
    room = Room.objects.create(slug="secret", name="Secret", is_private=True, created_by=owner)
    RoomMembership.objects.create(room=room, user=owner, role=RoomMembership.OWNER)
    return room


# --- every page ------------------------------------------------------------------------
def test_every_page_has_the_connection_indicator_and_a_csrf_token(client):
    page = page_of(client.get("/accounts/login/"))
    status = page.find("span", id="conn-status")
    assert status and status[0]["role"] == "status"
    assert page.find("meta", name="csrf-token")[0]["content"]
    assert page.find("script", type="module")  # the indicator's module


def test_home_needs_log_in(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_home_has_rooms_feeds_and_a_labelled_create_room_form(client, user):
    client.force_login(user)
    page = page_of(client.get("/"))
    assert page.labels["room-name"] == "Name"
    assert page.labels["room-slug"] == "Address"
    assert page.find("ul", id="room-list") and page.find("ul", id="feed-list")
    assert page.data()["user"] == {"id": user.pk, "username": "alice", "display_name": "Alice"}
    assert any(a.get("src", "").endswith("app/home.js") for a in page.find("script", type="module"))


# --- room page ----------------------------------------------------------------------------
def test_room_page_has_labelled_chat_and_board_controls(client, user, lobby):
    client.force_login(user)
    page = page_of(client.get("/rooms/lobby/"))
    assert page.labels["message-input"] == "Message"
    assert page.find("canvas", id="board-canvas")[0]["aria-label"] == "Whiteboard"
    tools = {a["data-tool"] for a in page.find("button", role="radio")}
    assert tools == {"pen", "line", "rect", "ellipse", "text", "note", "eraser"}
    assert page.find("input", id="board-color") and page.find("input", id="board-width")
    assert page.find("button", id="board-undo") and page.find("button", id="board-redo")
    assert page.find("button", id="board-clear")  # the owner may clear
    data = page.data()
    assert data["can_write"] and data["is_owner"]
    assert data["topics"] == {"chat": "room:lobby", "board": "board:lobby"}
    assert data["last_read_id"] == 0


def test_members_who_are_not_owners_get_no_clear_button(client, make_user, lobby):
    bob = make_user("bob")
    client.force_login(bob)
    page = page_of(client.get("/rooms/lobby/"))
    assert not page.find("button", id="board-clear")
    assert page.data()["is_owner"] is False
    assert page.data()["last_read_id"] is None  # not a member until the first post or subscribe


def test_anonymous_readers_of_a_public_room_get_no_composer(client, lobby):
    page = page_of(client.get("/rooms/lobby/"))
    assert "message-input" not in page.labels
    assert page.data()["can_write"] is False and page.data()["user"] is None


def test_archived_rooms_are_read_only(client, user, lobby):
    lobby.archived = True
    lobby.save()
    client.force_login(user)
    page = page_of(client.get("/rooms/lobby/"))
    assert "message-input" not in page.labels and page.data()["can_write"] is False


def test_private_room_sends_anonymous_to_log_in_and_hides_from_non_members(client, make_user, secret):
    response = client.get("/rooms/secret/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(make_user("stranger"))
    assert client.get("/rooms/secret/").status_code == 404


def test_private_room_opens_for_members_and_staff(client, make_user, staff, secret):
    member = make_user("member")
    RoomMembership.objects.create(room=secret, user=member)
    client.force_login(member)
    assert client.get("/rooms/secret/").status_code == 200
    client.force_login(staff)
    assert page_of(client.get("/rooms/secret/")).data()["is_owner"] is True


def test_unknown_room_is_404(client, user):
    client.force_login(user)
    assert client.get("/rooms/nope/").status_code == 404


def test_room_name_and_description_are_escaped(client, make_user):
    evil = make_user("evil", display_name=XSS)
    Room.objects.create(slug="xss", name=XSS, description=XSS + "</script><script>alert(2)</script>")
    client.force_login(evil)
    response = client.get("/rooms/xss/")
    html = response.content.decode()
    assert "<img src=x" not in html and "<script>alert(2)" not in html
    page = page_of(response)
    assert page.data()["room"]["name"] == XSS  # intact as data, inert as markup
    assert page.data()["user"]["display_name"] == XSS


# --- feed page ---------------------------------------------------------------------------
def _feed(**fields):
    from feeds.models import Feed

    return Feed.objects.create(**fields)


def test_public_feed_is_readable_anonymously(client):
    _feed(slug="news", title="News", is_public=True)
    page = page_of(client.get("/feeds/news/"))
    assert page.data()["topic"] == "feed:news"
    assert page.data()["items_url"] == "/api/feeds/news/items/"
    assert page.find("ol", id="feed-items")


def test_private_feed_needs_log_in_and_the_permission(client, user, make_user):
    _feed(slug="ops", title="Ops", is_public=False)
    assert client.get("/feeds/ops/").status_code == 302
    client.force_login(user)
    assert client.get("/feeds/ops/").status_code == 404  # not revealed, as in the API
    client.force_login(make_user("boss", is_staff=True))
    assert client.get("/feeds/ops/").status_code == 200


def test_unknown_feed_answers_like_a_private_one(client, user):
    assert client.get("/feeds/nope/").status_code == 302  # anonymous: log in first, as for ops
    client.force_login(user)
    assert client.get("/feeds/nope/").status_code == 404


# --- the scripts ------------------------------------------------------------------------------
def test_page_scripts_never_build_html_from_strings():
    """User text must reach the DOM as text: no innerHTML/outerHTML/insertAdjacentHTML,
    document.write or eval in any page script."""
    banned = re.compile(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write"
                        r"|\beval\(|new Function\(")
    scripts = sorted(STATIC.glob("**/*.js"))
    assert scripts
    offenders = [str(p.relative_to(STATIC)) for p in scripts if banned.search(p.read_text())]
    assert offenders == []


def test_every_relative_module_import_exists():
    pattern = re.compile(r"""^import .* from "(\.[^"]+)";$""", re.M)
    for script in STATIC.glob("**/*.js"):
        for target in pattern.findall(script.read_text()):
            assert (script.parent / target).resolve().exists(), f"{script.name} imports missing {target}"

