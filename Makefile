# Two commands set up everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= config.example.toml
# The test suite finds a local PostgreSQL by itself; set CALSYNC_TEST_POSTGRES_URL to use another.
PG_PROBE_URL := postgresql+psycopg://postgres@127.0.0.1:5432/test
# CI explores more hypothesis examples (the sync state machine runs 1,000).
export HYPOTHESIS_PROFILE ?= $(if $(CI),ci,dev)
# pytest-xdist workers: most of the suite waits on real servers (Radicale, PostgreSQL,
# daemons), so one worker per core keeps both cores busy. PYTEST_WORKERS=0 runs serially.
PYTEST_WORKERS ?= auto

.PHONY: run test test-lowest config-example install lint typecheck pytest browser bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Stamp files make re-runs fast: pip runs again only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

# The system install (as root): a venv in /opt/calsync, /usr/local/bin/calsync, the unit.
install:
	sh systemd/install.sh

run: $(VENV)/.installed
	mkdir -p var
	$(BIN)/calsync --config $(CONFIG) run

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

# The browser tests drive Debian's chromium (Playwright's own browser download cannot work
# here). Installed when missing and apt can run (root, or sudo without a password);
# otherwise the browser tests are skipped with the reason shown, and nothing else changes.
browser:
	@if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else exit 0; fi; \
		echo "installing Debian's chromium for the browser tests"; \
		$$SUDO apt-get install -y -q chromium >/dev/null 2>&1 || \
		{ $$SUDO apt-get update -q >/dev/null 2>&1 && $$SUDO apt-get install -y -q chromium >/dev/null 2>&1; } || \
		echo "could not install chromium: the browser tests will be skipped"; \
	fi

pytest: $(VENV)/.installed-dev browser
	@if [ -z "$$CALSYNC_TEST_POSTGRES_URL" ] && $(BIN)/python -c "import socket; socket.create_connection(('127.0.0.1', 5432), 2).close()" 2>/dev/null; then \
		echo "PostgreSQL answers on 127.0.0.1:5432: store tests run on it too"; \
		export CALSYNC_TEST_POSTGRES_URL=$(PG_PROBE_URL); \
	fi; \
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

test: lint typecheck pytest

# config.example.toml is generated from the config and provider schemas
# (tests/unit/test_config_example.py checks it is current).
config-example: $(VENV)/.installed
	$(BIN)/python -c "from calsync.config import render_example; \
	from calsync.providers import registry; \
	print(render_example(registry.config_sections(), active_provider='memory'), end='')" \
	> config.example.toml

# The declared lower bounds, tested: a separate venv where every direct dependency is at the
# lowest version pyproject.toml allows (uv's lowest-direct resolution), then the unit tier.
# Its own venv, so `make test` keeps the newest versions.
LOWEST_VENV ?= .venv-lowest
LOWEST_TESTS ?= tests/unit
test-lowest: | $(BIN)/python
	$(BIN)/pip install --quiet 'uv>=0.4'
	rm -rf $(LOWEST_VENV)
	$(BIN)/uv venv --quiet --python $(PYTHON) $(LOWEST_VENV)
	$(BIN)/uv pip install --quiet --python $(LOWEST_VENV)/bin/python \
		--resolution lowest-direct -e '.[dev]'
	$(BIN)/uv pip list --python $(LOWEST_VENV)/bin/python > $(LOWEST_VENV)/versions.txt
	$(LOWEST_VENV)/bin/pytest -p no:cacheprovider -n $(PYTEST_WORKERS) $(LOWEST_TESTS)

# The other benchmarks (bench/*.py) take their own flags; see bench/RESULTS.md for each command.
bench: $(VENV)/.installed-dev
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/store_write.py

clean:
	rm -rf $(VENV) $(LOWEST_VENV) var .pytest_cache .mypy_cache .ruff_cache
