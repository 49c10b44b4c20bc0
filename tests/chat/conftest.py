"""Rooms for chat tests: a public `lobby` and a private `secret`, each owned by `owner`."""

import pytest

from chat import services


@pytest.fixture
def owner(make_user):
    return make_user("olga")


@pytest.fixture
def lobby(owner):
    return services.room_create(creator=owner, slug="lobby", name="Lobby")


@pytest.fixture
def secret(owner):
    return services.room_create(creator=owner, slug="secret", name="Secret", is_private=True)
