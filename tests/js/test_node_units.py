"""The web UI's pure modules (static/app: board state, history, gestures, cursors, feed
pager, colour, chat's rules and typing; static/realtime: requests, subscriptions, backoff
and refresh timing, close codes) under Node's own test runner: `node --test
tests/js/*.test.mjs`, no npm packages.  Node is required, not optional: a missing node fails
with how to install it, because a skipped check would let CI claim what it never ran."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# Node's test runner starts one process per file; a whole run takes a few seconds on 2 cores.
NODE_TIMEOUT = 120


@pytest.fixture(scope="module")
def node():
    path = shutil.which("node") or shutil.which("nodejs")
    if path is None:
        pytest.fail("node is missing: install nodejs (Debian: apt-get install nodejs); "
                    "tests/js/*.test.mjs run under `node --test`", pytrace=False)
    return path


def test_the_pure_web_modules_pass_their_node_unit_tests(node):
    files = sorted(str(p.relative_to(ROOT)) for p in HERE.glob("*.test.mjs"))
    assert files, "no tests/js/*.test.mjs found"
    run = subprocess.run([node, "--test", "--test-reporter=tap", *files], cwd=ROOT, capture_output=True,
                         text=True, timeout=NODE_TIMEOUT)
    assert run.returncode == 0, \
        f"node --test failed ({run.returncode}):\n{run.stdout[-20000:]}\n{run.stderr[-5000:]}"
    # Every file ran, and its tests with it (a file that fails to import reports no tests).
    assert "# fail 0" in run.stdout and "# pass 0" not in run.stdout, run.stdout[-3000:]


def test_the_browser_and_the_server_give_a_user_the_same_colour(node):
    """static/app/colour.js (avatars, presence, cursors) equals whiteboard.handlers.user_colour
    (the `color` of board.cursor events) for many ids, not only the few the node test names."""
    from whiteboard.handlers import user_colour

    ids = [*range(3000), 65535, 1_000_003, 2**31 - 1]
    script = ("import { colourForId } from './static/app/colour.js';"
              f"console.log(JSON.stringify({json.dumps(ids)}.map(colourForId)));")
    run = subprocess.run([node, "--input-type=module", "-e", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=NODE_TIMEOUT)
    assert run.returncode == 0, run.stderr
    browser = json.loads(run.stdout)
    differ = [(i, b, user_colour(i)) for i, b in zip(ids, browser, strict=True) if b != user_colour(i)]
    assert differ == [], f"(id, browser, server) that differ: {differ[:10]}"
