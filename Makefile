# Two commands matter: `make run` (the sandbox dashboard) and `make test` (lint, types, tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
STAMP := $(VENV)/.installed

.PHONY: run sandbox test lint typecheck pytest chromium clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## make run: migrate, seed demo data, start localstripe and serve the dashboard on 127.0.0.1:$(PORT)
run: $(STAMP)
	$(BIN)/flask --app wsgi sandbox --port $(PORT)

sandbox: run

## make test: ruff, mypy, pytest (SQLite, plus PostgreSQL when TEST_DATABASE_URL is set)
test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) chromium
	$(BIN)/pytest $(PYTEST_ARGS)

## make chromium: Debian's Chromium for tests/test_browser.py, installed only when missing and
## we are root on a Debian-like machine; otherwise nothing (the browser test then skips).
chromium:
	@if [ ! -e /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; \
	fi

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
