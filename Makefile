# scim-me: `make run` serves a seeded demo on 127.0.0.1:8080; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080
WORKERS ?= 2
DEMO_TENANT ?= demo
DEMO_USER ?= kim
PYTEST_ARGS ?=
# Python caches compiled modules (__pycache__, git-ignored) even where the environment says not to
# (PYTHONDONTWRITEBYTECODE): without the cache every gunicorn worker, CLI call and test process
# compiles scim_me again (0.3 s of CPU each), and pytest rewrites every test module's asserts again
# in each of its workers.
unexport PYTHONDONTWRITEBYTECODE
# Tokens name their issuer by the base URL: `make run` and `make serve` write it into the instance
# config (instance/scim-me.toml), so a later `scim-me token` matches the port being served.

# The demo's Postman environment (URL, user, clients and their secrets), written by `make run`.
DEMO_ENV := instance/demo.postman_environment.json

.PHONY: install lock run serve test test-fast e2e lint fmt typecheck bench check clean postman newman config-docs reset-demo

install: $(VENV)/.installed

# Runtime, test and lint dependencies come from requirements.lock (exact versions and hashes), so
# a fresh clone installs what was tested; setup.cfg keeps the compatible ranges for library users.
$(VENV)/.installed: setup.cfg pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Re-resolves requirements.lock from setup.cfg's ranges with a pinned uv (in its own venv, so the
# project's venv never depends on it). Commit the result with the change that needed it.
UV_VERSION := 0.13.9
lock:
	test -x .lock-venv/bin/uv || ($(PYTHON) -m venv .lock-venv && .lock-venv/bin/pip install --quiet uv==$(UV_VERSION))
	.lock-venv/bin/uv pip compile setup.cfg --extra test --extra dev --generate-hashes --python-version 3.11 \
	  --upgrade --quiet -o requirements.lock

# Creates/upgrades the embedded SQLite database in instance/, seeds the demo tenant and user,
# prints a curl with a fresh token, then serves in the foreground.
run: install
	$(BIN)/scim-me config set base_url http://$(HOST):$(PORT)
	$(BIN)/scim-me keys init
	$(BIN)/scim-me db upgrade
	$(BIN)/scim-me demo seed --tenant $(DEMO_TENANT) --username $(DEMO_USER) --postman-environment $(DEMO_ENV)
	@TOKEN=$$($(BIN)/scim-me token --tenant $(DEMO_TENANT) --user $(DEMO_USER)) && \
	  echo && echo "scim-me is starting on http://$(HOST):$(PORT). Read the demo user's profile with:" && echo && \
	  echo "  curl -s http://$(HOST):$(PORT)/t/$(DEMO_TENANT)/scim2/Me -H 'Authorization: Bearer '$$TOKEN" && echo
	$(BIN)/gunicorn --workers $(WORKERS) --bind $(HOST):$(PORT) -c python:scim_me.gunicorn_conf --access-logfile - wsgi:app

serve: install
	$(BIN)/scim-me config set base_url http://$(HOST):$(PORT)
	$(BIN)/gunicorn --workers $(WORKERS) --bind $(HOST):$(PORT) -c python:scim_me.gunicorn_conf --access-logfile - wsgi:app

# Tests run in parallel (pytest-xdist) on every core, TEST_WORKERS processes: two a core, because
# much of the suite waits on gunicorn, PostgreSQL, Chromium and CLI subprocesses rather than
# computing. `--dist loadgroup` keeps the tests of a folder that shares one session server
# (tests/e2e, tests/clients, tests/browser) on one worker (tests/fixtures/workers.py).
# `make test TEST_WORKERS=0` runs in this process, one test at a time.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) * 2 )))
XDIST = $(if $(filter 0,$(TEST_WORKERS)),-p no:xdist,-n $(TEST_WORKERS) --dist loadgroup)

# The whole suite: unit, API (SQLite and PostgreSQL), fuzz, CLI and the gunicorn end-to-end suite.
test: install
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

test-fast: install
	$(BIN)/python -m pytest $(XDIST) -m "not e2e" --backends sqlite $(PYTEST_ARGS)

e2e: install
	$(BIN)/python -m pytest $(XDIST) -m e2e $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy scim_me

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: install
	$(BIN)/mypy scim_me

# The HTTP benchmark (bench/run.py: bare route, scim2-server and scim-me in one run; installs wrk
# from Debian when missing, scim2-server into bench/.work), then the README's table from its
# bench/results.json, then the PATCH engine alone. `make test` runs each bench script's --smoke.
bench: install
	@command -v wrk >/dev/null || { echo "== wrk is missing; installing Debian's wrk"; \
	  SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
	$(BIN)/python bench/run.py
	$(BIN)/python bench/filters.py
	$(BIN)/python bench/readme_table.py --write
	$(BIN)/python bench/patch_engine.py

# Rewrites docs/configuration.md from the settings in scim_me/config.py (a test fails when it is stale:
# run this after adding or changing a setting).
config-docs: install
	$(BIN)/python docs/generate_configuration.py

# Rebuilds postman/scim-me.postman_collection.json from postman/base.json + postman/folders/*.json
# (a test fails when the committed collection is stale). Standard library only: no venv needed.
postman:
	$(PYTHON) postman/assemble.py

# Runs the Postman collection against the server `make run` serves (in another terminal), with the
# environment its demo seed wrote (instance/demo.postman_environment.json: URL, user, clients).
newman:
	@test -f $(DEMO_ENV) || { echo "$(DEMO_ENV) is missing: start the demo with make run first" >&2; exit 1; }
	test -x tests/clients/node_modules/.bin/newman || npm ci --prefix tests/clients --no-audit --no-fund
	tests/clients/node_modules/.bin/newman run postman/scim-me.postman_collection.json -e $(DEMO_ENV)

# Deletes the demo's data (the SQLite database, its mail outbox and the Postman environment) so the
# next `make run` seeds a fresh demo; the config and the master key stay. Stop `make run` first.
reset-demo:
	@if $(PYTHON) -c "import urllib.request; urllib.request.urlopen('http://$(HOST):$(PORT)/health', timeout=2)" \
	  2>/dev/null; then echo "a server answers on $(HOST):$(PORT): stop make run (Ctrl-C) first" >&2; exit 1; fi
	rm -rf instance/scim-me.db instance/scim-me.db-wal instance/scim-me.db-shm instance/scim-me.db-writer.lock \
	  instance/outbox $(DEMO_ENV)
	@echo "demo data removed; make run seeds a fresh demo"

check: lint test

clean:
	rm -rf $(VENV) .lock-venv build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
