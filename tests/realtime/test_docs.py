"""The protocol docs cover everything registered (fails when something is added undocumented)."""

import re
from pathlib import Path

import pytest
from django.conf import settings

from realtime.asyncapi import render
from realtime.errors import ERROR_CODES
from realtime.registry import actions, events

DOCS = Path(settings.BASE_DIR) / "docs"


def documented_names():
    text = (DOCS / "protocol.md").read_text()
    for page in sorted((DOCS / "protocol").glob("*.md")):
        text += page.read_text()
    return set(re.findall(r"`([a-z_][a-z0-9_.]*)`", text))


@pytest.mark.parametrize("name", sorted(actions))
def test_every_registered_action_is_documented(name):
    assert name in documented_names(), f"action {name!r} is missing from docs/protocol*.md"


@pytest.mark.parametrize("name", sorted(events))
def test_every_registered_event_is_documented(name):
    assert name in documented_names(), f"event {name!r} is missing from docs/protocol*.md"


@pytest.mark.parametrize("code", ERROR_CODES)
def test_every_error_code_is_documented(code):
    assert code in documented_names()


def test_asyncapi_document_matches_the_registries():
    committed = (DOCS / "asyncapi.yaml").read_text()
    assert committed == render(), "run: python manage.py asyncapi > docs/asyncapi.yaml"
