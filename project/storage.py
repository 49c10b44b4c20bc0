"""Production static files: hashed names, compressed, and ES module imports rewritten.

Used when DEBUG is off (STORAGES in settings); `manage.py collectstatic` must have run
for this release (docs/operations.md, "Releasing"), or every page that names a static
file fails.  whitenoise then serves each hashed name with a far-future, immutable
Cache-Control (WHITENOISE_MAX_AGE for immutable files: ten years).

Pages load one module that imports the rest by relative path; without rewriting those
imports a browser could mix new and old modules for a while after a deploy.
"""

from whitenoise.storage import CompressedManifestStaticFilesStorage

# Django's own JS patterns (HashedFilesMixin._js_module_import_aggregation_patterns) let
# `export ... from` span statements: in static/app/board.js it matched from
# `export function safeColour(...)` to the next `import ... from "./board-render.js"`,
# rewriting a URL the import pattern had already hashed, so the page asked for
# board-render.<hash>.<hash>.js (a 404 that broke the room page).  Here each clause is
# only what the grammar allows between the keyword and `from`: a default name, `{...}`,
# or `* as name`, so a match cannot leave its statement.
_NAME = r"[\w$]+"
_SPECIFIER = r"""['"](?P<url>[./][^'"\n]*)['"]"""
JS_MODULE_PATTERNS = (
    "*.js",
    (
        (
            rf"(?P<matched>\bimport(?P<import>\s*(?:{_NAME}\s*(?:,\s*)?)?"
            rf"(?:\{{[^}}]*\}}|\*\s*as\s+{_NAME})?)\s*from\s*{_SPECIFIER})",
            'import%(import)s from "%(url)s"',
        ),
        (
            rf"(?P<matched>\bexport(?P<exports>\s*(?:\{{[^}}]*\}}|\*(?:\s*as\s+{_NAME})?))"
            rf"\s*from\s*{_SPECIFIER})",
            'export%(exports)s from "%(url)s"',
        ),
        (rf"(?P<matched>\bimport\s*{_SPECIFIER})", 'import "%(url)s"'),
        (rf"(?P<matched>\bimport\(\s*{_SPECIFIER}\s*\))", 'import("%(url)s")'),
    ),
)


class StaticStorage(CompressedManifestStaticFilesStorage):
    """CompressedManifestStaticFilesStorage plus the ES module patterns above."""

    patterns = CompressedManifestStaticFilesStorage.patterns + (JS_MODULE_PATTERNS,)
