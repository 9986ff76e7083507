# Two commands matter: `make run` (the sandbox dashboard) and `make test` (lint, types, tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
STAMP := $(VENV)/.installed
# axe-core, which the browser tests inject to check accessibility: test-only, from the npm
# registry as package-lock.json pins it, installed when missing.
AXE := node_modules/axe-core/axe.min.js

.PHONY: run sandbox test lint typecheck pytest chromium chaos clean bench screenshots

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

pytest: $(STAMP) chromium $(AXE)
	$(BIN)/pytest $(PYTEST_ARGS)

$(AXE):
	npm ci --no-audit --no-fund

## make bench: the benchmarks of docs/benchmarks.md, on SQLite and on PostgreSQL (BENCH_PG_URL,
## a scratch database that is dropped and recreated). Reports, never pass/fail. The order list
## goes up to BENCH_MAX_ORDERS (default 1000000; seeding a million takes minutes).
BENCH_PG_URL ?= postgresql://postgres@127.0.0.1/bench
BENCH_MAX_ORDERS ?= 1000000
BENCH_SIZES = $(shell $(BIN)/python -c "print(','.join(str(n) for n in (10000, 100000, 1000000) if n <= $(BENCH_MAX_ORDERS)))")
HOME_BENCH_SIZES = $(shell $(BIN)/python -c "print(','.join(str(n) for n in (10000, 1000000) if n <= $(BENCH_MAX_ORDERS)))")
bench: $(STAMP)
	$(BIN)/python -m bench.webhook_ingest --database-url $(BENCH_PG_URL)
	$(BIN)/python -m bench.order_detail --database-url $(BENCH_PG_URL)
	$(BIN)/python -m bench.stripe_sync --database-url $(BENCH_PG_URL)
	$(BIN)/python -m bench.order_list --sizes $(BENCH_SIZES) --database-url $(BENCH_PG_URL)
	$(BIN)/python -m bench.event_log --sizes $(BENCH_SIZES) --database-url $(BENCH_PG_URL)
	$(BIN)/python -m bench.home --sizes $(HOME_BENCH_SIZES) --database-url $(BENCH_PG_URL)
	$(BIN)/python -m bench.dispute_list --sizes $(BENCH_SIZES) --database-url $(BENCH_PG_URL)
	$(BIN)/python -m bench.export --orders $(BENCH_MAX_ORDERS) --database-url $(BENCH_PG_URL)

## make chaos N=10000: the chaos suite (tests/test_chaos.py) at size N on its own PostgreSQL
## database, CHAOS_DATABASE_URL (wiped first); figures in docs/reliability.md.
N ?= 10000
CHAOS_SEED ?= 20261124
CHAOS_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/chaos
chaos: $(STAMP)
	$(BIN)/python -m tests.chaos.database $(CHAOS_DATABASE_URL)
	TEST_DATABASE_URL=$(CHAOS_DATABASE_URL) CHAOS_EVENTS=$(N) CHAOS_SEED=$(CHAOS_SEED) \
		$(BIN)/pytest tests/test_chaos.py -p no:cacheprovider $(PYTEST_ARGS)

## make screenshots: refresh docs/screenshots/ from the browser test, on purpose; every other
## run of it saves its screenshots in a temporary folder (SCREENSHOT_DIR names another).
screenshots: $(STAMP) chromium $(AXE)
	SCREENSHOT_DIR=$(CURDIR)/docs/screenshots \
		$(BIN)/pytest tests/test_browser.py tests/test_browser_order_page.py -p no:cacheprovider $(PYTEST_ARGS)

## make chromium: Debian's Chromium for tests/test_browser.py, installed only when missing and
## we are root on a Debian-like machine; otherwise nothing (the browser test then skips).
chromium:
	@if [ ! -e /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; \
	fi

clean:
	rm -rf $(VENV) node_modules instance .pytest_cache .mypy_cache .ruff_cache
