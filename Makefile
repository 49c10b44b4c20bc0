# The two set-up commands (see README.md): `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed

.PHONY: run test test-faults lint venv bench clean

venv: $(STAMP)

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { echo "python3 -m venv failed: install python3-venv (apt-get install python3-venv)"; exit 1; }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

# project/stack.py migrates, seeds the demo data and supervises everything (Redis first);
# `exec` makes it make's own child, so make's SIGTERM reaches it and it can watch make.
run: venv
	DEBUG=$${DEBUG:-1} exec $(PY) -m project.stack

# axe-core, a test-only npm package the browser tests inject into every page (tests/e2e/axe.py),
# installed with Debian's npm into a gitignored folder; the stamp names the pinned version, so
# changing AXE_VERSION reinstalls.
AXE_VERSION := 4.14.1
AXE_DIR := tests/e2e/.axe
AXE_STAMP := $(AXE_DIR)/.installed-$(AXE_VERSION)

$(AXE_STAMP):
	@command -v npm >/dev/null || { echo "npm is missing: install nodejs and npm (apt-get install nodejs npm); the tests need node and axe-core"; exit 1; }
	npm install --prefix $(AXE_DIR) --no-audit --no-fund --no-save --silent axe-core@$(AXE_VERSION)
	@touch $(AXE_STAMP)

test: venv $(AXE_STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

test-faults: venv
	$(PY) -m pytest -m faults --run-faults $(PYTEST_ARGS); rc=$$?; [ $$rc -eq 5 ] && rc=0; exit $$rc

# ruff, then the import contracts in pyproject.toml [tool.importlinter] (realtime's public API,
# independent apps, bench speaks the wire protocol).
lint: venv
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports

bench: venv
	$(PY) -m bench.run_all

clean:
	rm -rf var/*.sqlite3 var/*.sock var/test-* .pytest_cache
