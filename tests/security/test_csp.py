"""Every HTML page carries the Content-Security-Policy (no inline scripts or styles), and
the pages themselves keep to it: no inline script or style, no event-handler attributes.
The browser side (a violation fails the test) is tests/e2e (conftest's open_page)."""

import re

import pytest
from django.test import Client

from chat.models import Room
from feeds.models import Feed

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
INLINE_STYLE = re.compile(rb"<style\b|\sstyle=\"|\son[a-z]+=\"", re.I)


def policy(response):
    return dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))


@pytest.fixture
def pages(make_user):
    staff = make_user("boss", is_staff=True, is_superuser=True)
    Room.objects.create(slug="lobby", name="Lobby", created_by=staff)
    Feed.objects.create(slug="news", title="News", is_public=True)
    return staff


PUBLIC = ["/accounts/login/", "/accounts/signup/", "/rooms/lobby/", "/feeds/news/", "/admin/login/",
          "/api/docs/"]
SIGNED_IN = ["/", "/rooms/lobby/", "/admin/", "/admin/chat/room/", "/admin/chat/room/add/",
             "/admin/accounts/user/", "/api/docs/"]


@pytest.mark.parametrize("path, signed_in", [(p, False) for p in PUBLIC] + [(p, True) for p in SIGNED_IN])
def test_every_html_page_carries_a_policy_without_inline_scripts_and_keeps_to_it(pages, path, signed_in):
    client = Client()
    if signed_in:
        client.force_login(pages)
    response = client.get(path)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    directives = policy(response)
    assert directives["script-src"] == "'self'" and "unsafe" not in directives["script-src"]
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"  # fetch and the same-origin ws:/wss: socket
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    html = response.content
    assert not INLINE_SCRIPT.search(html), INLINE_SCRIPT.search(html).group(0)
    assert not INLINE_STYLE.search(html), html[INLINE_STYLE.search(html).start() - 80:][:200]


def test_swagger_uis_init_script_is_a_file_from_this_site(client):
    page = client.get("/api/docs/").content.decode()
    src = re.search(r'<script src="([^"]*script=[^"]*)"', page).group(1)
    script = client.get(src.replace("&amp;", "&"))
    assert script.status_code == 200 and "javascript" in script["Content-Type"]
    assert b"SwaggerUIBundle" in script.content


def test_the_throttled_page_carries_the_policy_too(client, settings, monkeypatch):
    from realtime import throttles

    monkeypatch.setattr(throttles.LoginRateThrottle, "rate", "1/min", raising=False)
    client.post("/accounts/login/", {"username": "x", "password": "y"})
    refused = client.post("/accounts/login/", {"username": "x", "password": "y"})
    assert refused.status_code == 429 and policy(refused)["script-src"] == "'self'"
