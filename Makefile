# Siisurit: `make demo` runs the main job from a fresh clone; `make test` passes the tests.
# Both create .venv and install the pinned dependencies themselves.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# Test processes in parallel (pytest-xdist; each has its own test database and Redis databases, tests/settings.py),
# one test module per process at a time so that a module's shared worker and fixtures stay in one process.
TEST_PROCESSES ?= 4
PYTEST := $(BIN)/python -m pytest -n $(TEST_PROCESSES) --dist loadfile --no-loadscope-reorder

.PHONY: help setup migrate demo test test-fast _pytest lint format up services-stop bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

setup: $(STAMP)  ## create .venv and install the pinned dependencies

migrate: setup  ## create the database if missing and migrate it (embedded servers start if configured so)
	$(BIN)/python manage.py ensure_database
	$(BIN)/python manage.py migrate --no-input -v0

demo: migrate  ## the main job end to end: sandbox trackers, worker, import, update through the queue, summary
	$(BIN)/python manage.py demo

# The tests' own embedded servers (tests/settings.py); `make test` stops them again if it started them.
TEST_DATA_DIR := .siisurit/test

test: setup  ## run the whole test suite (real PostgreSQL, Redis, Celery workers, sandbox trackers) in parallel
	@$(MAKE) --no-print-directory _pytest PYTEST_SELECTION=

test-fast: setup  ## the edit loop: the test suite without the slow failure-injection and browser tests
	@$(MAKE) --no-print-directory _pytest PYTEST_SELECTION='-m "not slow and not browser"'

# pytest's exit code is kept (5, no tests collected, fails too); embedded test servers it started are stopped.
# Python writes compiled modules (__pycache__, ignored by git and Docker) even where PYTHONDONTWRITEBYTECODE is set:
# without them each test process compiles the project and pytest rewrites every test module again, some 2 CPU-seconds
# per process, and each worker or manage.py subprocess compiles what it imports.
_pytest: export PYTHONDONTWRITEBYTECODE :=
_pytest:
	@if $(BIN)/python manage.py embedded_servers status --data-dir $(TEST_DATA_DIR) | grep -q ': running'; then \
		$(PYTEST) $(PYTEST_SELECTION) $(PYTEST_ARGS); \
	else \
		status=0; $(PYTEST) $(PYTEST_SELECTION) $(PYTEST_ARGS) || status=$$?; \
		$(BIN)/python manage.py embedded_servers stop --data-dir $(TEST_DATA_DIR) -v0; exit $$status; \
	fi

lint: setup  ## ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# honcho ends with 130 after Ctrl-C has stopped every process: that is the normal end here, not an error.
up: migrate  ## the long-running local stack: sandbox, worker, beat, Flower, web admin (Ctrl-C stops all)
	$(BIN)/honcho --procfile Procfile.dev start || [ $$? -eq 130 ]

services-stop:  ## stop embedded PostgreSQL and Redis (of the local environment and of the tests)
	@echo "local ($${SII_DATA_DIR:-.siisurit}):"; $(BIN)/python manage.py embedded_servers stop
	@echo "tests ($(TEST_DATA_DIR)):"; $(BIN)/python manage.py embedded_servers stop --data-dir $(TEST_DATA_DIR)

bench: migrate  ## all benchmarks (prints tables; takes a while)
	$(BIN)/python bench/queue_latency.py
	$(BIN)/python bench/download.py
	$(BIN)/python bench/download_cpu.py
	$(BIN)/python bench/matching.py

clean:  ## remove the virtual environment and caches (keeps .siisurit data)
	rm -rf $(VENV) .pytest_cache .ruff_cache
