"""How client.js behaves when the socket is closed on it: the reconnect countdown shown
in the indicator, and close 4401 sending the browser to log in."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import connected

pytestmark = pytest.mark.django_db(transaction=True)


def route_sockets(page, refuse_after_first, close_code):
    """Proxies the page's sockets to the server; closes the first one with close_code
    once the test calls the returned function; refuses later ones when asked."""
    opened = []

    def handler(ws):
        if opened and refuse_after_first:
            ws.close(code=1011, reason="refused by the test")
            return
        opened.append(ws)
        ws.connect_to_server()

    page.route_web_socket(re.compile(r".*/ws/.*"), handler)

    def drop():
        opened[0].close(code=close_code, reason="closed by the test")

    return drop


def test_the_indicator_counts_down_to_the_next_reconnect(open_page, user):
    page = open_page(user, "/accounts/login/")  # any page; routes apply from the next load
    drop = route_sockets(page, refuse_after_first=True, close_code=1011)
    page.goto("/")
    connected(page)
    drop()
    status = page.locator("#conn-status")
    expect(status).to_have_attribute("data-state", "reconnecting")
    expect(status).to_have_text(re.compile(r"Reconnecting \(next try in \d+ s\)|Reconnecting…"))
    expect(page.get_by_role("button", name="Retry now")).to_be_visible()
    # The attempts keep failing (refused) and back off: the countdown grows.
    expect(status).to_have_text(re.compile(r"next try in ([2-9]|\d\d) s"), timeout=15_000)


def test_close_4401_sends_the_browser_to_log_in(open_page, user):
    page = open_page(user, "/accounts/login/")
    drop = route_sockets(page, refuse_after_first=False, close_code=4401)
    page.goto("/")
    connected(page)
    drop()
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=(/|%2F)$"))
