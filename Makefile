# Two commands do all the set-up: `make demo` and `make test` (see README).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/backoffice
# The integration tests flush this Redis database: keep it apart from anything else.
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: demo test lint services chromium clean-demo bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.base-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.base-installed

## demo: embedded default (SQLite, eager Celery, offline rules agent), demo users and documents, on :8000
demo: $(VENV)/.base-installed
	env -u DATABASE_URL -u REDIS_URL -u CELERY_BROKER_URL DEBUG=1 $(BIN)/python manage.py migrate --noinput
	env -u DATABASE_URL -u REDIS_URL -u CELERY_BROKER_URL DEBUG=1 $(BIN)/python manage.py seed_demo
	@echo ""
	@echo "  Open http://127.0.0.1:8000/ and log in with one of the users above."
	@echo ""
	env -u DATABASE_URL -u REDIS_URL -u CELERY_BROKER_URL DEBUG=1 $(BIN)/python manage.py runserver 127.0.0.1:8000

clean-demo:
	rm -rf db.sqlite3 media

## test: the whole suite on PostgreSQL and Redis, browser tests in Debian's Chromium
test: $(VENV)/.dev-installed services chromium
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) CELERY_TASK_ALWAYS_EAGER=1 DEBUG=1 \
		$(BIN)/python -m pytest $(PYTEST_ARGS)

services:
	@scripts/ensure-services

chromium:
	@scripts/ensure-chromium

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/python manage.py makemigrations --check --dry-run
