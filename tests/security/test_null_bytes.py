"""NUL characters in JSON strings: PostgreSQL text cannot hold them, so every input path
must refuse them as invalid input (DRF's CharField does, by ProhibitNullCharactersValidator);
found by tests/security/test_schemathesis.py on PostgreSQL."""

import pytest

from tests.feeds.conftest import make_event

pytestmark = pytest.mark.django_db

@pytest.mark.parametrize("field", ["feed", "id", "title"])
def test_a_nul_character_in_an_ingest_event_is_a_400_naming_the_field(api_as, make_user, field):
    from feeds.models import Feed

    admin = make_user("nul-admin", is_staff=True, is_superuser=True)
    Feed.objects.create(slug="news", title="News")
    event = make_event(**{field: f"bad\x00{field}"})
    response = api_as(admin).post("/api/events/", {"events": [event]}, format="json")
    assert response.status_code == 400, response.content[:300]
    assert response.json()["error"]["code"] == "invalid"


def test_a_nul_character_in_a_rest_field_is_a_400(api_as, user):
    response = api_as(user).post("/api/rooms/", {"slug": "ok", "name": "bad\x00name"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_a_nul_character_in_a_feed_description_is_a_400(api_as, make_user):
    from feeds.models import Feed

    admin = make_user("nul-staff", is_staff=True, is_superuser=True)
    Feed.objects.create(slug="news", title="News")
    response = api_as(admin).patch("/api/feeds/news/", {"description": "bad\x00"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "description"


def test_an_updated_after_beyond_the_databases_range_is_a_400_not_a_500(api, make_user):
    """Found by schemathesis on PostgreSQL: a far-future time with a -17:03 offset."""
    from feeds.models import Feed

    Feed.objects.create(slug="news", title="News")
    response = api.get("/api/feeds/news/items/", {"updated_after": "3383-10-24T11:58:33.7827-17:03"})
    assert response.status_code == 200 and response.json()["results"] == []
    response = api.get("/api/feeds/news/items/", {"updated_after": "9999-12-31T23:59:59-15:00"})
    assert response.status_code == 400 and response.json()["error"]["field"] == "updated_after"
