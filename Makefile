# The two commands a new user needs: `make run` and `make test`.
# Everything they need (virtualenv, Python packages, Debian's chromium for the browser tests)
# is installed by the targets below, so both work on a clean clone.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test install browser bench check clean-data

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

## Start the whole stack (embedded Postgres+pgvector and Redis unless DATABASE_URL/REDIS_URL are set).
run: $(STAMP)
	$(PY) -m supportbot.runtime

## Install everything the suite needs, then run it.
test: $(STAMP) browser
	$(PY) -m pytest

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
	$(PY) benchmarks/open_loop.py --conversations 50,150,300
	$(PY) benchmarks/idle_sockets.py --sockets 10000 --trace 2000

## Django's deployment checks with the settings of this environment; any warning fails. The
## loopback demo silences only the TLS ones, which cannot apply to plain HTTP on 127.0.0.1
## (supportbot/settings/security.py says why).
check: $(STAMP)
	$(PY) manage.py check --deploy --fail-level WARNING

clean-data:
	rm -rf .data
