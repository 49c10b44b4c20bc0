"""docs/webhooks.md's signature check, run as written against real deliveries: what it
tells receivers to do must accept what we send and refuse a changed body or an old one."""

import time

import pytest

from chat import services as chat
from tests.realtime import webhook_receiver as webhook_fixtures
from tests.realtime.webhook_receiver import register, run_all

pytestmark = pytest.mark.django_db(transaction=True)
receiver = webhook_fixtures.receiver  # the real HTTP receiver fixture
room = webhook_fixtures.room


def test_the_verification_example_in_the_receivers_guide_accepts_real_deliveries(receiver, staff, room):
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
    code = guide.split("```python\n", 1)[1].split("```", 1)[0]
    namespace = {}
    exec(compile(code, "docs/webhooks.md", "exec"), namespace)
    rx = receiver()
    endpoint, secret = register(staff, rx.url, ["chat.message"])
    chat.message_create(room=room, author=staff, body="documented")
    run_all(endpoint)
    _, headers, body = rx.wait_for(1)[0]
    doc_verify = namespace["verify"]
    assert doc_verify(secret, body, headers["Switchboard-Signature"])
    assert not doc_verify(secret, body + b" ", headers["Switchboard-Signature"])
    assert not doc_verify(secret, body, headers["Switchboard-Signature"], now=time.time() + 600)
