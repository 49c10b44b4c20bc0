""".ci/production.sh runs the production path with the very commands docs/operations.md
gives (release steps in their order, the web processes, the worker and beat), so the
document cannot drift from what CI proves."""

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "operations.md").read_text()
SCRIPT = (ROOT / ".ci" / "production.sh").read_text()
# Arguments whose values are the deployment's own (ports, paths): compared as placeholders.
VALUE_OPTIONS = {"-p", "--port", "--schedule"}


def shape(command):
    """The command as words, `$PY` spelled `python`, values of VALUE_OPTIONS as '<value>'."""
    words = shlex.split(command.replace('"$PY"', "python"), comments=True)
    return tuple("<value>" if i and words[i - 1] in VALUE_OPTIONS else w for i, w in enumerate(words))


def doc_commands():
    blocks = re.findall(r"```sh\n(.*?)```", DOC, re.S)
    lines = [line for block in blocks for line in block.replace("\\\n", " ").splitlines()]
    return [shape(line) for line in lines if line.startswith("python ")]


def script_commands():
    lines = SCRIPT.replace("\\\n", " ").splitlines()
    found = []
    for line in lines:
        line = re.sub(r'^start \S+ ', "", line.strip())
        if line.startswith(('"$PY" manage.py', '"$PY" -m ')):
            found.append(shape(line))
    return found


def test_the_release_steps_run_in_the_documented_order():
    release = [c for c in doc_commands() if c[1] == "manage.py" and c[2] != "createsuperuser"]
    assert [c[2] for c in release] == ["migrate", "collectstatic", "check"]
    ran = [c for c in script_commands() if c in release]
    assert ran == release


def test_the_processes_are_started_as_documented():
    documented = set(doc_commands())
    started = [c for c in script_commands() if c[1] == "-m"]
    assert {c[2] for c in started} == {"daphne", "celery"}
    for command in started:
        assert command in documented, " ".join(command)
