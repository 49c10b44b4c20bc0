"""A feed item POSTed to /api/events/ reaches an open feed page through the Celery worker."""

import uuid

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect
from rest_framework.authtoken.models import Token

from tests.e2e.conftest import connected

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_ingested_item_appears_on_an_open_feed_page_without_reload(open_page, live_servers, make_user):
    from feeds.models import Feed

    slug = f"f-{uuid.uuid4().hex[:10]}"
    Feed.objects.create(slug=slug, title="Deploys", is_public=True)
    source = make_user("ingester")
    source.user_permissions.add(Permission.objects.get(codename="ingest_events"))
    token = Token.objects.create(user=source).key

    page = open_page(None, f"/feeds/{slug}/")
    connected(page)
    title = f'Release 42 <b onmouseover="x">{uuid.uuid4().hex[:6]}</b>'
    status, body = live_servers.post("/api/events/", {"events": [{
        "id": "ext-1", "feed": slug, "kind": "deploy", "title": title, "body": "Rolled out to eu-west.",
        "url": "https://example.com/releases/42", "data": {}, "occurred_at": "2026-01-02T03:04:05Z",
        "version": 1, "deleted": False}]}, token=token)
    assert status == 202, body
    item = page.locator("#feed-items li.feed-item").first
    expect(item.locator(".feed-title")).to_have_text(title)  # through the worker, as text
    expect(item).to_contain_text("Rolled out to eu-west.")
    assert page.locator("#feed-items b").count() == 0
    assert page.url.endswith(f"/feeds/{slug}/")
