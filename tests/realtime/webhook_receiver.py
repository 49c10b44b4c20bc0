"""A real webhook receiver and the helpers the webhook tests share: a stdlib http.server in
a thread on a loopback port (the `receiver` fixture makes them), the receiver's signature
check written from docs/webhooks.md with hmac + hashlib only (not our signing code), and
registering an endpoint and running its queues as the Celery task would."""

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from chat import services as chat
from realtime.webhooks import delivery, endpoints, hook
from realtime.webhooks.models import Delivery

# Seconds between the receiver's checks for stop(): http.server's default (0.5 s) made
# every test using a receiver wait that long in its teardown; requests are answered at
# once whatever this is.
POLL_INTERVAL = 0.02


class Receiver:
    """A webhook receiver on 127.0.0.1: records every request (path, headers, body) and
    answers the next status of `statuses` (200 once they run out); with `fail_topic`, the
    first request for that topic gets 500 instead, whatever order the queues run in.
    `hold` (an Event), when set up, makes it wait for `release` before answering (a slow
    receiver)."""

    def __init__(self, statuses=(), fail_topic=None):
        self.requests, self.statuses = [], list(statuses)
        self.fail_topic = fail_topic
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        self.hold = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append((self.path, dict(self.headers), body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    if receiver.fail_topic and json.loads(body).get("topic") == receiver.fail_topic:
                        receiver.fail_topic, status = None, 500
                    receiver.arrived.notify_all()
                    hold = receiver.hold
                if hold is not None:
                    hold.wait(30)
                self.send_response(status)
                if status in (301, 302, 307):
                    self.send_header("Location", f"http://127.0.0.1:{receiver.port}/elsewhere")
                payload = b"received" if status < 300 else b"not now"
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(POLL_INTERVAL,),
                                       daemon=True)
        self.thread.start()

    def bodies(self):
        with self.lock:
            return [json.loads(body) for _, _, body in self.requests]

    def wait_for(self, count, timeout=30):
        """Blocks until `count` requests arrived (a poll on a condition, with a deadline)."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(self.requests)} of {count} requests arrived"
                self.arrived.wait(left)
            return list(self.requests)

    def stop(self):
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True  # the receiver is on loopback
    settings.DEBUG = True  # http:// endpoints
    made = []

    def make(statuses=(), fail_topic=None):
        made.append(Receiver(statuses, fail_topic))
        return made[-1]

    yield make
    for one in made:
        one.stop()
    hook.invalidate()


def verify(secret, headers, body, tolerance=300):
    """The receiver's check, written from docs/webhooks.md with hmac + hashlib only."""
    parts = dict(item.split("=", 1) for item in headers["Switchboard-Signature"].split(","))
    timestamp = int(parts["t"])
    assert abs(time.time() - timestamp) <= tolerance
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


def register(owner, url, events, topic_filter=""):
    endpoint, secret = endpoints.create(owner=owner, url=url, events=events, topic_filter=topic_filter)
    hook.invalidate()
    return endpoint, secret


def run_all(endpoint):
    """Sends every queue of the endpoint once, as the Celery task would."""
    for topic in set(Delivery.objects.filter(endpoint=endpoint).values_list("topic", flat=True)):
        delivery.run_queue(endpoint.pk, topic)


def make_due():
    Delivery.objects.filter(status=Delivery.PENDING).update(next_attempt_at=timezone.now())


@pytest.fixture
def room(staff):
    return chat.room_create(creator=staff, slug="lobby", name="Lobby")
