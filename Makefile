# ECR Portal. `make run` and `make test` each set up everything they need in a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
# The demo credential points at the simulator served by `make run` itself.
export ECR_SIMULATOR_BASE_URL ?= http://127.0.0.1:$(PORT)/simulator

.PHONY: run test test-fast lint format check bench install migrate seed schedules e2e-deps clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py createcachetable

seed: migrate
	$(BIN)/python manage.py seed_demo

schedules: migrate
	$(BIN)/python manage.py ensure_schedules --start-sweeper

# Web (threaded: the simulator is served by the same server and the portal calls it over
# HTTP) plus one django-q2 worker. Ctrl-C stops both; the trap is cleared before `kill 0`,
# whose TERM reaches this shell too and would otherwise run the trap again and again.
run: seed schedules
	@echo "Portal: http://127.0.0.1:$(PORT)/  ·  Simulador: http://127.0.0.1:$(PORT)/simulator/"
	@trap 'trap - INT TERM EXIT; kill 0' INT TERM EXIT; \
	  $(BIN)/python manage.py qcluster & \
	  $(BIN)/python manage.py runserver --noreload 127.0.0.1:$(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -x -m "not e2e and not chaos"

# ruff (style), import-linter (layers and no import cycles: pyproject.toml) and mypy (types).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy stores transactions

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check: $(STAMP)
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

# Benchmarks that print ratios (never timed tests). PostgreSQL and Redis when DATABASE_URL and
# REDIS_URL are set (each bench creates and drops a database of its own). api.py first gives
# its store a month of history on PostgreSQL (270,000 payments, about a minute). scale.py seeds a
# store-month (about 5 minutes) and measures every page; with PostgreSQL, `scale.py --year`
# then generates a merchant-year on the server (2.3 million intents, about 8 minutes on 2 cores)
# and measures the report against the hand-written SQL: the whole target takes about 45 min.
bench: $(STAMP)
	$(BIN)/python bench/polling.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/scale.py
	@if [ -n "$$DATABASE_URL" ]; then $(BIN)/python bench/scale.py --year; \
	else echo "scale.py --year skipped: a merchant-year is generated on PostgreSQL (DATABASE_URL)"; fi

clean:
	rm -rf $(VENV) staticfiles db.sqlite3 db.sqlite3-*
