"""Sign-up, log-in, log-out pages and API token auth."""

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db


def test_signup_creates_the_user_and_logs_them_in(client):
    response = client.post("/accounts/signup/", {
        "username": "newbie", "display_name": "New Bie", "email": "n@example.com",
        "password1": "a-long-pass-phrase-9", "password2": "a-long-pass-phrase-9"})
    assert response.status_code == 302
    user = get_user_model().objects.get(username="newbie")
    assert user.get_display_name() == "New Bie"
    assert client.get("/").status_code == 200  # logged in: the home page, not a redirect


def test_signup_rejects_mismatched_passwords(client):
    response = client.post("/accounts/signup/", {
        "username": "newbie", "password1": "a-long-pass-phrase-9", "password2": "other-pass-phrase-9"})
    assert response.status_code == 200
    assert not get_user_model().objects.filter(username="newbie").exists()


def test_login_page_logs_in_and_logout_logs_out(client, user):
    assert client.get("/").status_code == 302  # anonymous: sent to log in
    page = client.get("/accounts/login/")
    assert page.status_code == 200 and b"Log in" in page.content
    response = client.post("/accounts/login/", {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302


def test_login_with_a_wrong_password_shows_an_error(client, user):
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert b"didn&#x27;t match" in response.content or b"didn't match" in response.content


def test_token_endpoint_returns_a_token_that_authenticates(api, user):
    response = api.post("/api/auth/token/", {"username": "alice", "password": "pw-alice"}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    ticket = api.post("/api/auth/ticket/")
    assert ticket.status_code == 200 and ticket.json()["expires_in"] == 30


def test_token_endpoint_rejects_bad_credentials_with_a_json_error(api, user):
    response = api.post("/api/auth/token/", {"username": "alice", "password": "wrong"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_users_are_in_the_admin(client, make_user):
    admin = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    response = client.get("/admin/accounts/user/")
    assert response.status_code == 200 and b"root" in response.content


def test_api_schema_and_offline_docs_are_served(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"openapi: 3" in schema.content
    assert b"/api/auth/token/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()
    assert b"swagger-ui" in docs.content
