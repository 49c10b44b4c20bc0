"""End-to-end fixtures: a live daphne and a real Celery worker on the test database, and
Debian's Chromium driven by Playwright's sync API.

The servers are package-scoped: they start once for tests/e2e and stop when its last
test finishes, so the worker never consumes tasks of other test packages.  They use the
test database (transactional tests: what a test writes is committed and visible to them)
and the run's Redis (REDIS_URL, exported by the root conftest.py).  Each test uses fresh
room / feed slugs, because the servers keep per-topic state across tests while the
database is flushed between them.
"""

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.servers import database_url

CHROMIUM = "/usr/bin/chromium"
# Playwright's own browser download does not work here: Debian's Chromium, these flags.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "test-results" / "e2e"
# Seconds a server gets to come up (daphne imports Django; the worker connects to Redis).
START_TIMEOUT = 30.0
# Playwright's default wait for expectations, in ms: realtime delivery is sub-second, the
# worker path (POST /api/events/ -> task -> publish) a little more.
EXPECT_TIMEOUT_MS = 10_000


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(autouse=True)
def _clean_redis():
    """Overrides the suite's per-test FLUSHDB: the live servers' Celery queues and
    bindings live in that Redis, and the tests here use fresh topics anyway."""
    yield


def _wait_for_worker(worker):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if not worker.alive:
            raise RuntimeError(f"celery worker exited:\n{worker.log()[-3000:]}")
        if " ready." in worker.log():
            return
        time.sleep(0.1)
    raise RuntimeError(f"celery worker did not start in {START_TIMEOUT} s:\n{worker.log()[-3000:]}")


@pytest.fixture(scope="package")
def live_servers(django_db_setup, django_db_blocker):
    """Starts daphne and a Celery worker on the test database; yields the daphne server
    (tests.servers.DaphneServer: .url, .post(path, body, token))."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); the browser tests need it")
    from django.conf import settings

    from tests.servers import APP_WITH_OPEN_KIND, Process, server_env, start_daphne

    with django_db_blocker.unblock():
        db_url = database_url()
    var_dir = Path(tempfile.mkdtemp(prefix="switchboard-e2e-"))
    env = {"DATABASE_URL": db_url, "REDIS_URL": settings.REDIS_URL, "SECRET_KEY": settings.SECRET_KEY,
           "SWITCHBOARD_VAR_DIR": str(var_dir), "DEBUG": "0", "DJANGO_ALLOW_ASYNC_UNSAFE": ""}
    worker = Process([sys.executable, "-m", "celery", "-A", "project", "worker", "--pool", "solo",
                      "--loglevel", "INFO", "--without-gossip", "--without-mingle",
                      "--hostname", f"e2e-{os.getpid()}@%h"], server_env(env), "celery-e2e")
    server = None
    try:
        # DEBUG is off, as in production: whitenoise serves the collected files, collected
        # before daphne starts (it lists them once); the worker, which needs none, starts
        # meanwhile.
        subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT,
                       env=server_env(env), check=True)
        # The real application plus the test-only topic kind open:<key> (test_client.py).
        server = start_daphne(env=env, app=APP_WITH_OPEN_KIND)
        _wait_for_worker(worker)
        yield server
    finally:
        keep = RESULTS / "server-logs"
        for proc, name in ((server, "daphne.log"), (worker, "worker.log")):
            if proc is not None:
                log = proc.log()
                proc.stop()
                with contextlib.suppress(OSError):  # kept for reading after a failure
                    keep.mkdir(parents=True, exist_ok=True)
                    (keep / name).write_text(log)
        shutil.rmtree(var_dir, ignore_errors=True)


@pytest.fixture(scope="package")
def chromium(live_servers):
    """Debian's Chromium through Playwright (never `playwright install`)."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread; the ORM calls the
    # tests make between browser steps are plain sync code, so Django's async-safety guard
    # must step aside -- only while the browser runs, never for the rest of the suite (and
    # never in the server processes, which get it unset).
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()


@pytest.fixture
def browser_type_launch_args():
    """The same flags for pytest-playwright's own fixtures, should a test use them."""
    return {"executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def base_url(live_servers):
    return live_servers.url


@pytest.fixture
def artifacts(request):
    """The test's output folder under test-results/e2e/."""
    path = RESULTS / request.node.name.replace("/", "_").replace("[", "_").replace("]", "")
    path.mkdir(parents=True, exist_ok=True)
    return path


# Runs in every page before its own scripts (Playwright injects it; the page's CSP does
# not apply to it): each Content-Security-Policy violation becomes a console error that
# open_page recognises by this prefix.
CSP_REPORTER = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error("CSP violation: " + e.effectiveDirective + " blocked " + (e.blockedURI || "inline")
                + " at " + e.sourceFile + ":" + e.lineNumber);
});
"""


@pytest.fixture
def open_page(chromium, base_url, transactional_db, artifacts):
    """open_page(user=None, path="/") -> a Page in its own browser context (its own
    cookies and network), logged in as `user` by a session cookie.  Console errors are
    collected on page.errors; every page is screenshotted when the test ends.  Any
    Content-Security-Policy violation in any page of its contexts fails the test (from the
    securitypolicyviolation event and Chromium's own console report)."""
    from django.test import Client
    from playwright.sync_api import expect

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    contexts = []
    violations = []

    def on_console(message):
        text = message.text
        if text.startswith("CSP violation") or "Content Security Policy" in text:
            violations.append(f"{message.page.url if message.page else '?'}: {text}")

    def make(user=None, path="/", *, name=None):
        context = chromium.new_context(base_url=base_url, viewport={"width": 1400, "height": 900})
        context.add_init_script(CSP_REPORTER)
        context.on("console", on_console)
        contexts.append((name or (user.username if user else "anonymous"), context))
        if user is not None:
            client = Client()
            client.force_login(user)
            context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                                  "url": base_url}])
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(path)
        return page

    make.csp_violations = violations  # for tests/e2e/test_csp.py's check of this check
    yield make
    for index, (name, context) in enumerate(contexts):
        for n, page in enumerate(context.pages):
            try:
                page.screenshot(path=str(artifacts / f"{index}-{name}-{n}.png"), full_page=True)
            except Exception:  # a crashed page must not hide the test's own failure
                pass
        context.close()
    if violations:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(dict.fromkeys(violations)))


def connected(page):
    """Waits until the page's socket is open (the header's indicator says so)."""
    from playwright.sync_api import expect

    expect(page.locator("#conn-status")).to_have_attribute("data-state", "connected")
