"""The README's configuration tables list every environment variable the code reads, and no
variable the code no longer reads.

The names are found in the source, not in a hand-kept list: every call of the readers in
project/env.py (`get_bool`, `get_int`, `get_float`, `get_list`, `get_str`) and every
`os.environ.get` / `os.getenv` / `os.environ[...]` with a literal name, in the site's own
packages.  A setting added without a README row fails here.
"""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("project", "realtime", "accounts", "chat", "feeds", "whiteboard")
READERS = {"get_bool", "get_int", "get_float", "get_list", "get_str", "getenv"}
# Read by the code, but set by the test machinery only: documented in tests/, not for users.
NOT_FOR_USERS = {"SWITCHBOARD_TESTING"}


def _literal(node):
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _names_in(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            is_environ_get = (name == "get" and isinstance(func, ast.Attribute)
                              and ast.unparse(func.value) == "os.environ")
            if name in READERS or is_environ_get:
                literal = _literal(node.args[0])
                if literal:
                    yield literal
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            literal = _literal(node.slice)
            if literal:
                yield literal


def variables_read_by_the_code():
    names = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                names.update(_names_in(ast.parse(path.read_text(), str(path))))
    return names - NOT_FOR_USERS


def variables_in_the_readme():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"(?m)^\| `([A-Z][A-Z0-9_]+)`", section))


def test_the_scan_finds_the_variables_it_should():
    # Guards the scanner itself: a reader it stopped recognising would pass every README.
    found = variables_read_by_the_code()
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "REST_WRITE_RATE", "LOG_LEVEL",
            "DATABASE_POOL_MAX", "REALTIME_TICKET_TTL", "FEEDS_MAX_BATCH_BYTES", "PORT"} <= found


def test_every_variable_the_code_reads_has_a_row_in_the_readme():
    missing = sorted(variables_read_by_the_code() - variables_in_the_readme())
    assert not missing, f"add these to README.md's configuration tables: {missing}"


def test_every_variable_in_the_readme_is_read_by_the_code():
    stale = sorted(variables_in_the_readme() - variables_read_by_the_code())
    assert not stale, f"README.md documents variables nothing reads: {stale}"
