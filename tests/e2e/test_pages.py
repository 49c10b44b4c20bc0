"""Log-in through the real form, the home page and the connection indicator."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import connected

pytestmark = pytest.mark.django_db(transaction=True)


def test_log_in_through_the_form_reaches_home_with_a_live_connection(open_page, make_user):
    make_user("carol", display_name="Carol Jones")
    page = open_page(None, "/")
    page.get_by_label("Username").fill("carol")
    page.get_by_label("Password").fill("pw-carol")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Rooms")).to_be_visible()
    expect(page.get_by_text("Carol Jones")).to_be_visible()
    connected(page)
    expect(page.locator("#conn-status")).to_have_text("Connected")
    assert page.errors == []
