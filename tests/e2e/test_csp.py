"""Under the Content-Security-Policy, in Chromium: Swagger UI and the admin work (the other
e2e tests cover the site's own pages, socket included), and a violation is caught by the
fixture that fails every e2e test on one."""

import time

from playwright.sync_api import expect


def test_swagger_ui_renders_the_api_under_the_policy(open_page):
    page = open_page(path="/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Switchboard API")
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.errors == []


def test_the_admin_works_under_the_policy(open_page, make_user):
    staff = make_user("boss", is_staff=True, is_superuser=True)
    page = open_page(staff, "/admin/chat/room/add/")
    page.fill("#id_slug", "csp-room")
    page.fill("#id_name", "CSP room")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    assert page.errors == []


def test_a_violation_is_caught(open_page):
    page = open_page(path="/accounts/login/")
    page.evaluate("""() => { const s = document.createElement('script');
                            s.textContent = 'window.inlineRan = true'; document.body.append(s); }""")
    deadline = time.monotonic() + 5
    while not open_page.csp_violations and time.monotonic() < deadline:
        page.wait_for_timeout(50)  # lets Playwright deliver the console event
    assert any("script-src" in v for v in open_page.csp_violations), open_page.csp_violations
    assert page.evaluate("window.inlineRan") is None  # and the policy did block it
    open_page.csp_violations.clear()  # expected here; any other test fails on one
