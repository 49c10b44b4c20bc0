"""What .ci/production_check.py checks with, as a browser and a script see the site: the
timeouts, the ok/fail report lines, waiting for a URL, a cookie-keeping HTTPS client and the
check of a page with every static file it references.  Imported by production_check.py (its
sibling, on sys.path as the script's folder); stdlib only, never Django.
"""

import http.cookiejar
import json
import re
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
