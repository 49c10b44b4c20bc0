"""The production path, checked from outside as a browser and a script see it.

Called by .ci/production.sh (read it first) with the site already running as
docs/operations.md gives it: DEBUG off, two daphnes behind deploy/nginx.conf with TLS, a
Celery worker on RabbitMQ.  Three commands:

    production_check.py render-nginx CONF --listen P --redirect P --upstream P1,P2 \\
        --cert C --key K --server-name NAME        # prints a complete nginx.conf
    production_check.py wait URL WHAT               # until URL answers (not 5xx), or fail
    production_check.py check --base https://NAME:P --redirect http://127.0.0.1:P \\
        --cafile C --admin USER --admin-password PW

`check` needs only the stdlib and `websockets`; it never imports Django, so it sees the
site exactly as a client does.  It prints each check and exits non-zero on the first failure.
"""

import argparse
import asyncio
import http.client
import json
import re
import secrets
import ssl
import sys
import time
import urllib.parse

from production_http import EVENTUAL, TIMEOUT, Browser, check_page, expect, fail, ok, wait


# --- nginx.conf -----------------------------------------------------------------------------
def render_nginx(conf, *, listen, redirect, upstream, cert, key, server_name):
    """deploy/nginx.conf with the real ports and certificate, inside a minimal main config
    whose paths are relative to nginx's -p prefix (nothing touches the system nginx)."""
    servers = "".join(f"    server 127.0.0.1:{p};\n" for p in upstream)
    conf = re.sub(r"(?m)^    server 127\.0\.0\.1:\d+;.*\n", "", conf)
    conf = conf.replace("    least_conn;", "    least_conn;\n" + servers.rstrip("\n"), 1)
    conf = conf.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{listen} ssl http2;")
    conf = conf.replace("listen 80;", f"listen 127.0.0.1:{redirect};")
    conf = re.sub(r"ssl_certificate [^;]+;", f"ssl_certificate {cert};", conf)
    conf = re.sub(r"ssl_certificate_key [^;]+;", f"ssl_certificate_key {key};", conf)
    conf = re.sub(r"server_name [^;]+;", f"server_name {server_name};", conf)
    return ("daemon off;\nworker_processes 1;\nerror_log logs/error.log warn;\npid logs/nginx.pid;\n"
            "events { worker_connections 256; }\nhttp {\n  access_log logs/access.log;\n"
            "  client_body_temp_path tmp/body; proxy_temp_path tmp/proxy;\n"
            "  fastcgi_temp_path tmp/fcgi; uwsgi_temp_path tmp/uwsgi; scgi_temp_path tmp/scgi;\n"
            + conf + "\n}\n")


# --- the checks -----------------------------------------------------------------------------
def check_redirect(redirect_url, public_host):
    parts = urllib.parse.urlsplit(redirect_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT)
    conn.request("GET", "/accounts/login/", headers={"Host": public_host})
    response = conn.getresponse()
    location = response.getheader("Location", "")
    conn.close()
    expect(response.status == 301 and location == f"https://{public_host}/accounts/login/",
           f"plain HTTP redirects to HTTPS ({response.status} {location})")


def check(args):
    context = ssl.create_default_context(cafile=args.cafile)
    base = args.base.rstrip("/")
    host = urllib.parse.urlsplit(base).hostname
    print(f"checking {base} (nginx, TLS) as a browser and a script", flush=True)
    check_redirect(args.redirect, host)

    anon = Browser(base, context)
    status, headers, raw, _ = anon.request("/readyz")
    expect(status == 200, f"/readyz -> 200 through nginx ({raw[:200].decode()})")
    expect("max-age=" in headers.get("Strict-Transport-Security", ""), "HSTS header on HTTPS")
    expect(anon.request("/metrics")[0] == 404, "/metrics is not served publicly -> 404")
    status, _, _, url = anon.request("/")
    expect(status == 200 and urllib.parse.urlsplit(url).path == "/accounts/login/",
           "/ signed out -> the login page")

    checked = set()
    for path in ("/accounts/login/", "/accounts/signup/", "/admin/login/", "/api/docs/"):
        check_page(anon, path, checked)

    # A new user signs up through the form (CSRF over HTTPS: Origin/Referer and cookie).
    user = Browser(base, context)
    name, password = f"ci-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    status, _, _, url = user.form("/accounts/signup/", {
        "username": name, "display_name": "CI", "email": f"{name}@example.com",
        "password1": password, "password2": password})
    expect(status == 200 and urllib.parse.urlsplit(url).path == "/", f"sign-up as {name} lands on /")
    user.username = name
    session = user.cookie("sessionid")
    expect(session is not None and session.secure, "the session cookie is Secure")

    # The administrator signs in through the login form and takes an API token.
    admin = Browser(base, context)
    status, _, _, url = admin.form("/accounts/login/", {"username": args.admin,
                                                        "password": args.admin_password})
    expect(status == 200 and urllib.parse.urlsplit(url).path == "/", "admin signs in via the login form")
    admin = Browser(base, context)  # a script: no session cookie, so no CSRF either
    status, body = admin.json("/api/auth/token/", {"username": args.admin, "password": args.admin_password})
    expect(status == 200 and body.get("token"), f"POST /api/auth/token/ -> {status}")
    token = body["token"]
    deadline = time.monotonic() + EVENTUAL
    while True:  # the worker may still be starting; staff see /readyz's details
        status, _, raw, _ = admin.request("/readyz", headers={"Authorization": f"Token {token}"})
        workers = json.loads(raw).get("checks", {}).get("workers", {})
        if workers.get("ok") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    expect(workers.get("ok"), f"/readyz (staff): a Celery worker answers on the broker ({workers})")
    room, feed = f"ci-{secrets.token_hex(3)}", f"ci-{secrets.token_hex(3)}"
    status, body = admin.json("/api/rooms/", {"slug": room, "name": "CI room"}, token)
    expect(status == 201, f"POST /api/rooms/ -> {status} {body}")
    status, body = admin.json("/api/feeds/", {"slug": feed, "title": "CI feed"}, token)
    expect(status == 201, f"POST /api/feeds/ -> {status} {body}")

    for path in ("/", f"/rooms/{room}/", f"/feeds/{feed}/"):
        check_page(user, path, checked)

    status, _, raw, _ = user.request(f"/api/rooms/{room}/messages/", b"x" * (2621440 + 1),
                                     {"Content-Type": "application/json"})
    expect(status == 413 and json.loads(raw)["error"]["code"] == "too_large",
           "a body over 2.5 MiB -> JSON 413 too_large")

    asyncio.run(check_sockets(args, user, admin, token, room, feed, context))
    print("production path: all checks passed", flush=True)


async def check_sockets(args, user, admin, token, room, feed, context):
    """Two browser sockets (session cookie, Origin) through nginx, on both daphnes; a REST
    message and a Celery-ingested feed item reach both."""
    import websockets

    ws_url = args.base.replace("https://", "wss://").rstrip("/") + "/ws/"
    cookie = "; ".join(f"{c.name}={c.value}" for c in user.jar)
    sockets = [await websockets.connect(ws_url, ssl=context, origin=args.base.rstrip("/"),
                                        additional_headers={"Cookie": cookie},
                                        open_timeout=TIMEOUT) for _ in range(2)]
    try:
        for i, ws in enumerate(sockets):
            for topic in (f"room:{room}", f"feed:{feed}"):
                await ws.send(json.dumps({"action": "subscribe", "request_id": topic, "topic": topic}))
                reply = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
                expect(reply.get("type") == "reply", f"socket {i + 1}: subscribe {topic} over wss://")
        deadline = time.monotonic() + EVENTUAL
        while True:
            status, _, raw, _ = await asyncio.to_thread(
                admin.request, "/api/connections/?open=1", None, {"Authorization": f"Token {token}"})
            rows = [r for r in json.loads(raw)["results"] if r["username"] == user.username]
            servers = {r["server_instance"] for r in rows}
            if len(servers) >= 2 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        expect(len(servers) == 2, f"the two sockets are on two server processes ({sorted(servers)})")

        status, body = await asyncio.to_thread(admin.json, f"/api/rooms/{room}/messages/",
                                               {"body": "hello through nginx"}, token)
        expect(status == 201, f"POST /api/rooms/{room}/messages/ -> {status}")
        await expect_event(sockets, f"room:{room}", "chat.message")
        event = {"id": "ci-1", "feed": feed, "title": "from the worker", "version": 1,
                 "occurred_at": "2026-01-01T00:00:00Z"}
        status, body = await asyncio.to_thread(admin.json, "/api/events/", {"events": [event]}, token)
        expect(status in (200, 202), f"POST /api/events/ -> {status} (queued for the Celery worker)")
        await expect_event(sockets, f"feed:{feed}", "feed.item", EVENTUAL)
    finally:
        for ws in sockets:
            await ws.close()


async def expect_event(sockets, topic, name, timeout=TIMEOUT):
    for i, ws in enumerate(sockets):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                fail(f"socket {i + 1}: no {name} on {topic}")
            frame = json.loads(await asyncio.wait_for(ws.recv(), left))
            if frame.get("type") == "event" and frame.get("topic") == topic and frame["event"] == name:
                ok(f"socket {i + 1}: {name} on {topic}")
                break


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    render = sub.add_parser("render-nginx")
    render.add_argument("conf")
    for name in ("--listen", "--redirect", "--upstream", "--cert", "--key", "--server-name"):
        render.add_argument(name, required=True)
    poll = sub.add_parser("wait")
    poll.add_argument("url")
    poll.add_argument("what")
    run = sub.add_parser("check")
    for name in ("--base", "--redirect", "--cafile", "--admin", "--admin-password"):
        run.add_argument(name, required=True)
    args = parser.parse_args()
    if args.command == "render-nginx":
        with open(args.conf) as f:
            sys.stdout.write(render_nginx(
                f.read(), listen=args.listen, redirect=args.redirect, upstream=args.upstream.split(","),
                cert=args.cert, key=args.key, server_name=args.server_name))
    elif args.command == "wait":
        wait(args.url, args.what)
    else:
        check(args)


if __name__ == "__main__":
    main()
