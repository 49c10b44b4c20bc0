"""static/realtime/client.js in Chromium against the live server, on the test-only topic
kind open:<key>: resume after the network was cut, request errors, the indicator."""

import uuid

import pytest
from playwright.sync_api import expect

from realtime.publish import publish
from tests.e2e.conftest import connected

pytestmark = pytest.mark.django_db(transaction=True)

SUBSCRIBE = """async (topic) => {
  const { getClient } = await import("/static/realtime/client.js");
  window.got = [];
  window.resyncs = 0;
  const sub = getClient().subscribe(topic, (event, data, frame) => window.got.push(frame.seq), {
    onResync: () => { window.resyncs += 1; } });
  return (await sub.ready).seq;
}"""


def test_a_page_that_was_offline_gets_each_missed_event_once_in_order(open_page, open_kind, user):
    topic = f"open:{uuid.uuid4().hex[:12]}"
    page = open_page(user, "/")
    connected(page)
    assert page.evaluate(SUBSCRIBE, topic) == 0
    for n in range(3):
        publish(topic, "notification", {"n": n})
    # A function, not an expression string: Playwright eval()s a string, which the CSP forbids.
    page.wait_for_function("() => window.got.length === 3")
    page.context.set_offline(True)
    expect(page.locator("#conn-status")).not_to_have_attribute("data-state", "connected")
    for n in range(3, 7):
        publish(topic, "notification", {"n": n})
    page.wait_for_timeout(300)
    page.context.set_offline(False)
    connected(page)
    page.wait_for_function("() => window.got.length >= 7")
    page.wait_for_timeout(300)  # nothing more (no duplicate) arrives
    assert page.evaluate("window.got") == [1, 2, 3, 4, 5, 6, 7]
    assert page.evaluate("window.resyncs") == 0


def test_request_errors_carry_the_protocol_code(open_page, user):
    page = open_page(user, "/")
    connected(page)
    result = page.evaluate("""async () => {
      const { getClient } = await import("/static/realtime/client.js");
      try { await getClient().request("no.such.action", null, {}); return "no error"; }
      catch (err) { return [err.name, err.code]; }
    }""")
    assert result == ["RealtimeError", "unknown_action"]


def test_the_indicator_shows_offline_and_comes_back(open_page, user):
    page = open_page(user, "/")
    connected(page)
    page.context.set_offline(True)
    expect(page.locator("#conn-status")).to_have_attribute("data-state", "offline")
    expect(page.locator("#conn-status")).to_have_text("Offline")
    page.context.set_offline(False)
    connected(page)
    expect(page.locator("#conn-status")).to_have_text("Connected")


def test_ticket_mode_posts_for_a_ticket_with_the_csrf_token_and_connects(open_page, open_kind, user):
    page = open_page(user, "/")
    connected(page)
    topic = f"open:{uuid.uuid4().hex[:12]}"
    result = page.evaluate("""async (topic) => {
      const { RealtimeClient } = await import("/static/realtime/client.js");
      const client = new RealtimeClient({ auth: "ticket" });
      const states = [];
      client.onState((s) => states.push(s.state));
      client.connect();
      const reply = await client.subscribe(topic, () => {}).ready;
      const me = reply.presence.map((u) => u.username);
      client.close();
      return { states, me };
    }""", topic)
    assert "connected" in result["states"]
    assert result["me"] == ["alice"]  # the ticket authenticated the socket as Alice
