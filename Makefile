# The two commands (see README.md): `make drill` runs the main job, `make test` runs the tests.
# Both bootstrap what they need on a fresh machine with Python 3.11 and make.

SHELL := /bin/bash
PYTHON ?= python3.11
UV_INSTALL_DIR ?= $(HOME)/.local/bin
UV := $(shell command -v uv 2>/dev/null || echo $(UV_INSTALL_DIR)/uv)
export UV_PYTHON ?= $(PYTHON)

.PHONY: drill test test-quick bootstrap uv venv postgres chromium lint lab emulator bench clean

## drill: the main job, a full DR drill on the embedded emulator; evidence under outputs/
drill: bootstrap
	$(UV) run drlib drill --env dev --scenario planned-switchover --target local

## test: every test (what CI runs), browser tests included, on TEST_WORKERS pytest-xdist
## workers (most of the suite waits on emulated AWS timings, so more workers than cores pay off;
## a module's tests stay on one worker, with its fixtures)
TEST_WORKERS ?= 4
test: bootstrap chromium
	$(UV) run pytest -n $(TEST_WORKERS) --dist loadfile

## test-quick: the tests not marked slow
test-quick: bootstrap
	$(UV) run pytest -m "not slow"

bootstrap: venv postgres

uv:
	@command -v $(UV) >/dev/null 2>&1 || { \
	  echo "installing uv into $(UV_INSTALL_DIR)"; \
	  $(PYTHON) -m pip install --quiet --user uv 2>/dev/null || \
	  $(PYTHON) -m pip install --quiet --break-system-packages uv || $(PYTHON) -m pip install --quiet uv; \
	}

## venv: the locked environment, compiled to bytecode once (a machine with
## PYTHONDONTWRITEBYTECODE set, as CI's, otherwise compiles every module in every process:
## each notebook kernel, Locust and Sceptre process, and the emulator, paid about 4 s each).
## Here, not in pyproject.toml, where it would make every `uv run` check 12,000 files again.
venv: uv
	$(UV) sync --locked --quiet --compile-bytecode
	$(UV) run --locked python -m compileall -q drlib

## postgres: the PostgreSQL server binaries the emulator's Aurora stand-in runs
postgres:
	@bash scripts/ensure-postgres.sh

## chromium: Debian's Chromium for the browser tests (tests/browser/)
chromium:
	@bash scripts/ensure-chromium.sh

lint: bootstrap
	$(UV) run ruff check drlib tests bench
	$(UV) run cfn-lint sceptre/templates/*.yaml

## lab: JupyterLab with the emulator running, every notebook runnable cell by cell
lab: bootstrap
	$(UV) run drlib lab

## emulator: the emulator in the foreground, printing how to point clients at it
emulator: bootstrap
	$(UV) run drlib emulator serve

bench: bootstrap
	for b in bench/*.py; do echo "== $$b"; $(UV) run python $$b || exit 1; done

clean:
	rm -rf .drlib .pytest_cache
