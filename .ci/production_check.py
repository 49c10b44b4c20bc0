"""The production path, checked from outside as a browser and a script see it.

Called by .ci/production.sh (read it first) with the site already running as
docs/operations.md gives it: DEBUG off, two daphnes behind deploy/nginx.conf with TLS, a
Celery worker on RabbitMQ.  Two commands:

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
import http.cookiejar
import json
import re
import secrets
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser

# Seconds any one request or socket read may take: generous for a 2-core CI machine, short
# enough that a hang fails the job instead of stalling it.
TIMEOUT = 20.0
# Seconds to wait for something another process does (a Celery ingest, a Connection row).
EVENTUAL = 30.0
# What whitenoise sends for a hashed static name (WHITENOISE_MAX_AGE for immutable files).
IMMUTABLE = ("max-age=315360000", "public", "immutable")
STATIC_URL = "/static/"


def ok(what):
    print(f"  ok  {what}", flush=True)


def fail(what):
    print(f"FAIL  {what}", flush=True)
    raise SystemExit(1)


def expect(condition, what):
    ok(what) if condition else fail(what)


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


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the redirect itself is the answer (nginx's port 80 sends one)


def wait(url, what):
    """Polls url until it answers below 500 (a redirect counts), for at most EVENTUAL s."""
    opener = urllib.request.build_opener(_NoRedirect)
    deadline = time.monotonic() + EVENTUAL
    while True:
        try:
            with opener.open(url, timeout=2):
                return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            fail(f"{what} did not come up at {url}")
        time.sleep(0.1)


# --- HTTP as a browser does it --------------------------------------------------------------
class Assets(HTMLParser):
    """<script src>, <link href> and the csrfmiddlewaretoken of a page."""

    def __init__(self):
        super().__init__()
        self.urls, self.csrf = [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.urls.append(attrs["src"])
        elif tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])
        elif tag == "input" and attrs.get("name") == "csrfmiddlewaretoken":
            self.csrf = attrs.get("value")


class Browser:
    """Cookies, the CA of our certificate, Referer and Origin on unsafe requests."""

    def __init__(self, base, context):
        self.base, self.context = base, context
        self.jar = http.cookiejar.CookieJar()
        self.username = None
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=context), urllib.request.HTTPCookieProcessor(self.jar))

    def request(self, path, data=None, headers=(), method=None):
        """(status, headers, body bytes, final URL); redirects are followed."""
        url = urllib.parse.urljoin(self.base, path)
        headers = dict(headers)
        if data is not None:
            headers.setdefault("Referer", url)
            headers.setdefault("Origin", self.base)
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with self.opener.open(request, timeout=TIMEOUT) as response:
                return response.status, response.headers, response.read(), response.url
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, exc.read(), url

    def json(self, path, body, token=None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Token {token}"
        status, _, raw, _ = self.request(path, json.dumps(body).encode(), headers)
        return status, json.loads(raw or b"null")

    def form(self, path, fields):
        """GETs a form page, then POSTs fields with its CSRF token, as the browser would."""
        status, _, raw, _ = self.request(path)
        parser = Assets()
        parser.feed(raw.decode())
        expect(status == 200 and parser.csrf, f"GET {path} has a form with a CSRF token")
        data = urllib.parse.urlencode(dict(fields, csrfmiddlewaretoken=parser.csrf)).encode()
        return self.request(path, data, {"Content-Type": "application/x-www-form-urlencoded"})

    def cookie(self, name):
        return next((c for c in self.jar if c.name == name), None)


def check_page(browser, path, checked):
    """The page answers 200 and every static file it references (and those import) is served
    with far-future caching; `checked` collects the static URLs already fetched."""
    status, _, raw, url = browser.request(path)
    expect(status == 200 and urllib.parse.urlsplit(url).path == path, f"GET {path} -> 200")
    parser = Assets()
    parser.feed(raw.decode())
    todo = [urllib.parse.urljoin(url, u) for u in parser.urls]
    todo = [u for u in todo if u.startswith(browser.base)]
    expect(todo, f"{path} references static files ({len(todo)})")
    while todo:
        asset = todo.pop()
        if asset in checked:
            continue
        checked.add(asset)
        status, headers, body, _ = browser.request(asset)
        cache = headers.get("Cache-Control", "")
        parts = urllib.parse.urlsplit(asset)
        name = parts.path
        if name.startswith(STATIC_URL):
            expect(status == 200 and all(p in cache for p in IMMUTABLE), f"  {name} -> 200, {cache}")
        else:  # made by a view (Swagger UI's settings script): no hashed name to cache forever
            shown = name + (f"?{parts.query}" if parts.query else "")
            expect(status == 200, f"  {shown} -> 200 (a view, not a static file)")
        text = body.decode(errors="replace")
        if name.endswith(".js"):  # ES module imports: the storage rewrote them to hashed names
            refs = re.findall(r"""(?:\bfrom|\bimport)\s*\(?\s*["'](\.{1,2}/[^"']+)["']""", text)
        elif name.endswith(".css"):
            refs = [r for r in re.findall(r"""url\(\s*["']?([^"')]+)""", text)
                    if not r.startswith(("data:", "#", "http:", "https:"))]
        else:
            refs = []
        todo += [urllib.parse.urljoin(asset, r) for r in refs]


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
