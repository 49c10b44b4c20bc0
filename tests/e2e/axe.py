"""axe-core in the browser tests: accessibility checked on the real pages, not assumed.

axe-core is a test-only npm package, installed by `make test` (the Makefile's AXE_STAMP
rule: `npm install --prefix tests/e2e/.axe axe-core@<pinned>`, a gitignored folder).

Injection: the pages run under a Content-Security-Policy without 'unsafe-inline', so
`page.add_script_tag(path=...)` (which inlines the file into a <script>) would be blocked
and reported as a violation, failing every test.  `page.evaluate(source)` runs the file
through the DevTools protocol instead, which the page's CSP does not govern; unlike
`bypass_csp=True` on the context it leaves the policy in force for the page itself, so the
pages are checked exactly as users get them.
"""

from pathlib import Path

import pytest

AXE_JS = Path(__file__).resolve().parent / ".axe" / "node_modules" / "axe-core" / "axe.min.js"
# The impacts that fail a test.  "moderate" and "minor" findings are reported by
# axe too but are advice (e.g. a region rule on a landmark-less widget), not blockers.
FAILING_IMPACTS = ("serious", "critical")

_RUN = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => n.target.join(" ") + " -- " + n.failureSummary.replace(/\\s+/g, " ")) }));
}"""


def axe_source():
    if not AXE_JS.exists():
        pytest.fail(f"{AXE_JS} is missing: run `make test` (it installs axe-core with npm), or "
                    "`npm install --prefix tests/e2e/.axe axe-core@<version in the Makefile>` "
                    "(Debian: apt-get install npm)", pytrace=False)
    return AXE_JS.read_text()


def violations(page):
    """Runs axe-core on the page as it is now; returns its violations (every impact)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source() + "\n;undefined")
    return page.evaluate(_RUN)


def assert_accessible(page):
    """Fails with a readable list when axe finds a serious or critical violation."""
    found = [v for v in violations(page) if v["impact"] in FAILING_IMPACTS]
    lines = [f"{v['impact']} {v['id']}: {v['help']}\n    " + "\n    ".join(v["nodes"][:8]) for v in found]
    assert not found, f"axe-core on {page.url}:\n" + "\n".join(lines)
