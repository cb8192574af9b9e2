# Plaza: two commands. `make run` sets up and serves the demo; `make test` sets up and runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
# One PostgreSQL database per checkout, so that several checkouts can test side by side.
PG_DB ?= plaza_test_$(shell basename "$(CURDIR)" | tr -c 'a-zA-Z0-9\n' '_' | tr 'A-Z' 'a-z')
export PLAZA_TEST_POSTGRES_URL ?= postgresql+psycopg://plaza:plaza@127.0.0.1:5432/$(PG_DB)

.PHONY: run test bench lint format install postgres browser clean messages

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

postgres:
	@scripts/ensure-postgres.sh "$(PG_DB)"

browser:
	@scripts/ensure-chromium.sh

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	@# Alembic builds the schema on an empty database, and the models agree with it.
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  PLAZA_DATABASE_URL="sqlite:///$$tmp/check.sqlite3" $(BIN)/alembic upgrade head && \
	  PLAZA_DATABASE_URL="sqlite:///$$tmp/check.sqlite3" $(BIN)/alembic check

# Re-extract translatable strings and merge them into the catalogs (then translate zh_Hans).
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _ -k gettext -k ngettext:1,2 -k N_ \
	  --no-location --sort-output -o app/translations/messages.pot .
	$(BIN)/pybabel update -i app/translations/messages.pot -d app/translations --no-fuzzy-matching

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: $(STAMP) postgres browser lint
	$(BIN)/pytest

bench: $(STAMP) postgres
	$(BIN)/python -m bench

run: $(STAMP)
	PORT=$(PORT) $(BIN)/plaza demo --serve

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis var
