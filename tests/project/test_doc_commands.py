"""Commands in the docs run as written, or say why not.

Every fenced ```sh block of README.md, bench/README.md and docs/**/*.md is one of:
  * run here, as written: the comment `<!-- run by tests/project/test_doc_commands.py -->`
    right before the fence; the block runs under bash (errexit) from the repo root, bounded
    by RUN_TIMEOUT, and must exit 0;
  * marked not run: `<!-- not run: <why> -->` right before the fence, or the fence info
    string ```sh not-run``` (the reason then in the text around it).
An unmarked block fails, so a new command in the docs is either tested or says it is not.
"""

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN_MARK = "<!-- run by tests/project/test_doc_commands.py -->"
NOT_RUN_MARK = re.compile(r"<!--\s*not run:\s*\S.*-->")
FENCE = re.compile(r"^```(\S*)(.*)$")
# Seconds a block run here may take: they are --help and checks, each a Python start-up.
RUN_TIMEOUT = 120


def doc_files():
    return [ROOT / "README.md", ROOT / "bench" / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def sh_blocks(path):
    """(line number, marker, code) of each ```sh block; marker is "run", "not-run" or None."""
    lines = path.read_text().splitlines()
    blocks, index = [], 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if not match or not match[1]:
            index += 1
            continue
        start, info = index, (match[1] + match[2]).split()
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("```")), len(lines))
        if info[0] == "sh":
            before = next((lines[i].strip() for i in range(start - 1, -1, -1) if lines[i].strip()), "")
            marker = ("not-run" if "not-run" in info[1:] or NOT_RUN_MARK.fullmatch(before)
                      else "run" if before == RUN_MARK else None)
            blocks.append((start + 1, marker, "\n".join(lines[start + 1:end])))
        index = end + 1
    return blocks


ALL_BLOCKS = [(path, line, marker, code) for path in doc_files() for line, marker, code in sh_blocks(path)]


def block_id(block):
    return f"{block[0].relative_to(ROOT)}:{block[1]}"


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=block_id)
def test_every_sh_block_is_run_here_or_marked_not_run(block):
    path, line, marker, code = block
    assert marker is not None, (
        f"{block_id(block)}: a ```sh block nobody runs; put `{RUN_MARK}` before it (it runs "
        f"here as written) or `<!-- not run: why -->`:\n{code}")


RUN_BLOCKS = [block for block in ALL_BLOCKS if block[2] == "run"]


def test_some_blocks_are_run_here():
    assert RUN_BLOCKS, "no doc block is run by this test any more: the marker check alone remains"


@pytest.mark.parametrize("block", RUN_BLOCKS, ids=block_id)
def test_a_block_marked_run_runs_as_written(block):
    path, line, marker, code = block
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")}
    result = subprocess.run(["bash", "-e", "-c", code], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=RUN_TIMEOUT)
    output = f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert result.returncode == 0, f"{block_id(block)} failed:\n{output}"
