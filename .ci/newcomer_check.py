"""The newcomer path's end-to-end check, run by .ci/newcomer.sh against a fresh `make run`.

    .venv/bin/python .ci/newcomer_check.py http://127.0.0.1:PORT DEMO_PASSWORD

Checks, printing each: /readyz 200 (polled until a deadline), / and /accounts/login/ 200,
a token for the demo user, a WebSocket subscribed to room:lobby on a ticket, a message
posted over REST arriving on that socket, and the documented example
clients/python/examples/mirror_room.py (docs/client-python.md) printing the messages then
posted over REST, in order.  Exits non-zero with the reason on the first failure.
Standard library plus `websockets` and `switchboard-client` (both in requirements.txt).
"""

import asyncio
import json
import os
import pathlib
import subprocess
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
# The example from docs/client-python.md, run as a user would (its own process).
MIRROR_EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "clients/python/examples/mirror_room.py"
# Messages posted for the mirror: more than one, so their order is checked too.
MIRROR_MESSAGES = 3
# Seconds for the mirror to print them all: a Python start-up, a ticket, a connect and a
# replay; about a second when healthy.
MIRROR_DEADLINE = 30.0


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
    return frame["seq"]


def mirror_prints_messages(base, token, after_seq):
    """Runs the documented mirror_room.py example on room:lobby from `after_seq` (the seq the
    socket check saw, so the mirror's own subscribe cannot race the posts: what it missed
    while starting is replayed), posts MIRROR_MESSAGES over REST and expects exactly those
    bodies on its stdout, in order."""
    command = [sys.executable, str(MIRROR_EXAMPLE), "--url", base, "--room", "lobby",
               "--since", str(after_seq), "--count", str(MIRROR_MESSAGES)]
    mirror = subprocess.Popen(command, env={**os.environ, "SWITCHBOARD_TOKEN": token},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        tag = uuid.uuid4().hex[:8]
        posted = [f"mirror check {tag} #{n}" for n in range(1, MIRROR_MESSAGES + 1)]
        for text in posted:
            status, body, _ = http(base, "POST", "/api/rooms/lobby/messages/", {"body": text}, token)
            expect(status, 201, f"POST /api/rooms/lobby/messages/ ({text!r})", body)
        try:
            out, err = mirror.communicate(timeout=MIRROR_DEADLINE)
        except subprocess.TimeoutExpired:
            mirror.kill()
            out, err = mirror.communicate()
            raise CheckFailed(
                f"mirror_room.py did not print {MIRROR_MESSAGES} messages within "
                f"{MIRROR_DEADLINE:.0f} s; stdout: {out[-500:]!r} stderr: {err[-1000:]!r}") from None
    finally:
        if mirror.poll() is None:
            mirror.kill()
            mirror.wait()
    if mirror.returncode != 0:
        raise CheckFailed(f"mirror_room.py exited {mirror.returncode}: {err[-1500:]}")
    try:
        lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    except ValueError:
        raise CheckFailed(
            f"mirror_room.py printed something that is not a JSON line: {out[-500:]!r}") from None
    bodies = [line.get("body") for line in lines]
    if bodies != posted:
        raise CheckFailed(f"mirror_room.py printed {bodies}, expected {posted} in that order")
    seqs = [line.get("seq") for line in lines]
    if seqs != sorted(seqs) or len(set(seqs)) != len(seqs):
        raise CheckFailed(f"mirror_room.py printed seqs {seqs}: not strictly increasing")
    print(f"ok   mirror_room.py printed the {MIRROR_MESSAGES} posted messages in order "
          f"(seq {seqs[0]}..{seqs[-1]})", flush=True)


def main(base, password):
    base = base.rstrip("/")
    wait_ready(base)
    status, body, url = http(base, "GET", "/")
    expect(status, 200, f"GET / (ends at {url})", body)
    status, body, _ = http(base, "GET", "/accounts/login/")
    expect(status, 200, "GET /accounts/login/", body)
    status, body, _ = http(base, "POST", "/api/auth/token/", {"username": "demo", "password": password})
    expect(status, 200, "POST /api/auth/token/ with the printed demo password", body)
    token = body["token"]
    seq = asyncio.run(message_reaches_socket(base, token))
    mirror_prints_messages(base, token, seq)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    try:
        main(sys.argv[1], sys.argv[2])
    except CheckFailed as exc:
        print(f"FAIL {exc}", flush=True)
        sys.exit(1)
    print("newcomer check passed", flush=True)
