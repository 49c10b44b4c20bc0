"""The newcomer path's end-to-end check, run by .ci/newcomer.sh against a fresh `make run`.

    .venv/bin/python .ci/newcomer_check.py http://127.0.0.1:PORT DEMO_PASSWORD

Checks, printing each: /readyz 200 (polled until a deadline), / and /accounts/login/ 200,
a token for the demo user, a WebSocket subscribed to room:lobby on a ticket, and a message
posted over REST arriving on that socket.  Exits non-zero with the reason on the first
failure.  Standard library plus `websockets` (in requirements.txt).
"""

import asyncio
import json
import sys
import time
import urllib.error
import urllib.request
import uuid

import websockets

# Seconds for /readyz to answer 200 after the banner (the worker and beat may still start).
READY_DEADLINE = 60.0
# Seconds for any one HTTP request or WebSocket reply.
REQUEST_TIMEOUT = 10.0
# Seconds for a REST post to reach the subscribed socket (milliseconds when healthy).
EVENT_DEADLINE = 15.0


class CheckFailed(Exception):
    pass


def http(base, method, path, body=None, token=None):
    """(status, parsed JSON or text, final URL); redirects are followed."""
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Token {token}"
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
            status, raw, url = response.status, response.read(), response.url
    except urllib.error.HTTPError as err:
        status, raw, url = err.code, err.read(), err.url
    text = raw.decode(errors="replace")
    try:
        return status, json.loads(text), url
    except ValueError:
        return status, text, url


def expect(status, wanted, what, body):
    if status != wanted:
        raise CheckFailed(f"{what}: expected {wanted}, got {status}: {str(body)[:500]}")
    print(f"ok   {what} -> {status}", flush=True)


def wait_ready(base):
    deadline = time.monotonic() + READY_DEADLINE
    last = None
    while time.monotonic() < deadline:
        try:
            status, body, _ = http(base, "GET", "/readyz")
            if status == 200:
                print("ok   GET /readyz -> 200", flush=True)
                return
            last = f"{status}: {str(body)[:300]}"
        except OSError as exc:
            last = repr(exc)
        time.sleep(0.5)
    raise CheckFailed(f"/readyz did not answer 200 within {READY_DEADLINE:.0f} s (last: {last})")


async def receive(ws, match, what, deadline):
    """The first frame satisfying `match` before `deadline` (monotonic)."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise CheckFailed(f"{what}: nothing arrived in time")
        try:
            frame = json.loads(await asyncio.wait_for(ws.recv(), left))
        except TimeoutError:
            raise CheckFailed(f"{what}: nothing arrived in time") from None
        if frame.get("type") == "error":
            raise CheckFailed(f"{what}: error frame {frame}")
        if match(frame):
            return frame


async def message_reaches_socket(base, token):
    status, body, _ = http(base, "POST", "/api/auth/ticket/", {}, token)
    expect(status, 200, "POST /api/auth/ticket/ (token auth)", body)
    ws_url = base.replace("http://", "ws://", 1) + f"/ws/?ticket={body['ticket']}"
    async with websockets.connect(ws_url, open_timeout=REQUEST_TIMEOUT) as ws:
        print("ok   WebSocket connected on the ticket", flush=True)
        await ws.send(json.dumps({"action": "subscribe", "request_id": "1", "topic": "room:lobby"}))
        await receive(ws, lambda f: f.get("type") == "reply" and f.get("request_id") == "1",
                      "subscribe room:lobby", time.monotonic() + REQUEST_TIMEOUT)
        print("ok   subscribed to room:lobby", flush=True)
        text = f"hello from the newcomer check {uuid.uuid4().hex[:8]}"
        status, body, _ = http(base, "POST", "/api/rooms/lobby/messages/", {"body": text}, token)
        expect(status, 201, "POST /api/rooms/lobby/messages/ as demo", body)
        frame = await receive(
            ws, lambda f: f.get("type") == "event" and f.get("topic") == "room:lobby"
            and f.get("event") == "chat.message" and f["data"]["message"].get("body") == text,
            "the posted message on the socket", time.monotonic() + EVENT_DEADLINE)
        print(f"ok   chat.message arrived on the socket (seq {frame.get('seq')})", flush=True)


def main(base, password):
    base = base.rstrip("/")
    wait_ready(base)
    status, body, url = http(base, "GET", "/")
    expect(status, 200, f"GET / (ends at {url})", body)
    status, body, _ = http(base, "GET", "/accounts/login/")
    expect(status, 200, "GET /accounts/login/", body)
    status, body, _ = http(base, "POST", "/api/auth/token/", {"username": "demo", "password": password})
    expect(status, 200, "POST /api/auth/token/ with the printed demo password", body)
    asyncio.run(message_reaches_socket(base, body["token"]))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    try:
        main(sys.argv[1], sys.argv[2])
    except CheckFailed as exc:
        print(f"FAIL {exc}", flush=True)
        sys.exit(1)
    print("newcomer check passed", flush=True)
