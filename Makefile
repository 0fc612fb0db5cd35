# realtime: `make demo` runs the chat demo, `make test` runs everything CI runs.
# Both create or reuse the virtualenv .venv in the checkout and install what
# they need into it; nothing is installed system-wide except the Debian
# packages the browser and proxy tests need (see tests/support/prereqs.sh).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEPS_HASH := $(shell cat setup.py pyproject.toml 2>/dev/null | md5sum | cut -c1-10)
DEV_STAMP := $(VENV)/.dev-$(DEPS_HASH)
DEMO_STAMP := $(VENV)/.demo-$(DEPS_HASH)
BENCH_STAMP := $(VENV)/.bench-$(DEPS_HASH)
BENCH_ARGS ?=
PYTEST_ARGS ?=
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: demo test lint typecheck docs pytest prereqs bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(DEMO_STAMP): $(VENV)/bin/python setup.py pyproject.toml
	$(PY) -m pip install --quiet -e '.[eventlet,flask,push]'
	touch $@

$(DEV_STAMP): $(VENV)/bin/python setup.py pyproject.toml
	$(PY) -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.dev-*
	touch $@

demo: $(DEMO_STAMP)
	$(PY) examples/chat/app.py --host $(HOST) --port $(PORT)

prereqs:
	bash tests/support/prereqs.sh

lint: $(DEV_STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(DEV_STAMP)
	$(PY) -m mypy

docs: $(DEV_STAMP)
	$(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html

pytest: $(DEV_STAMP) prereqs
	$(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

test: lint typecheck docs pytest

$(BENCH_STAMP): $(DEV_STAMP)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $@

# Side by side with Flask-SocketIO and Node's socket.io; writes
# benchmarks/results/latest.json and docs/performance.md (see benchmarks/README.md).
bench: $(BENCH_STAMP)
	$(PY) -m benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) docs/_build .pytest_cache .mypy_cache .ruff_cache .hypothesis .cache
