# Phoenyra BESS Trade — `make run` runs the system, `make test` runs the tests.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

WEBAPP := src/phoenyra/webapp
ASSETS_STAMP := $(WEBAPP)/static/build/.stamp
ASSET_INPUTS := package-lock.json scripts/vendor-assets.mjs $(wildcard $(WEBAPP)/assets/*) \
	$(wildcard $(WEBAPP)/templates/*.html) $(wildcard $(WEBAPP)/static/js/*.js) \
	$(wildcard $(WEBAPP)/translations/*/LC_MESSAGES/*.po)

.PHONY: setup assets compile run test lint format bench services clean

$(STAMP): pyproject.toml
	@command -v python3 >/dev/null || { echo "python3 (3.11+) is required"; exit 1; }
	@test -x $(BIN)/python || python3 -m venv $(VENV)
	@echo "setup: installing Python packages into $(VENV) ..."
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,compile]'
	@touch $(STAMP)

# The web app's front end: npm packages (Tailwind, ApexCharts, socket.io-client, Font Awesome,
# Inter) built and copied into static/, and the German catalogue compiled; Swagger UI copied into
# the exchange's static/swagger/ for its API docs (/docs).
node_modules/.package-lock.json: package-lock.json
	@command -v npm >/dev/null || { echo "npm (Node.js 18+) is required to build the web app's assets"; exit 1; }
	@echo "assets: installing npm packages ..."
	npm ci --no-audit --no-fund --loglevel=error

$(ASSETS_STAMP): node_modules/.package-lock.json $(ASSET_INPUTS) $(STAMP)
	@echo "assets: building CSS, copying vendored scripts and fonts, compiling translations ..."
	npm run --silent build
	$(BIN)/pybabel compile --statistics -d $(WEBAPP)/translations
	$(BIN)/python -m whitenoise.compress -q $(WEBAPP)/static
	@touch $(ASSETS_STAMP)

# The matching core compiled to C with mypyc (about twice as fast); rebuilt when the core's
# sources change. Without a C compiler it says so and the pure-Python core runs (CI: fails).
# (The builder itself runs as pure Python: an old build is not loaded while it is replaced.)
CORE := src/phoenyra/core
CORE_BUILD := $(CORE)/_compiled/manifest.json
$(CORE_BUILD): $(addprefix $(CORE)/,__init__.py native.py errors.py orders.py markets.py book.py engine.py risk.py indicators.py wire.py) $(STAMP)
	PHOENYRA_PURE_PYTHON=1 $(BIN)/python -m phoenyra.core.native

compile: $(STAMP)
	PHOENYRA_PURE_PYTHON=1 $(BIN)/python -m phoenyra.core.native

setup: $(STAMP) $(ASSETS_STAMP) $(CORE_BUILD)

assets: $(ASSETS_STAMP)

# make run TLS=1: HTTPS and WSS with a self-signed certificate made under data/tls.
run: setup
	PHOENYRA_ENV=development $(BIN)/phoenyra up $(if $(TLS),--tls)

services:
	scripts/services start

# The tests run in TEST_WORKERS processes (pytest-xdist), a test file to a process: most of them
# wait on real services and browsers, so two workers take about three quarters of the time of
# one even on two cores. TEST_WORKERS=0 runs them in this process.
TEST_WORKERS ?= 2
test: setup services
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

lint: setup
	$(BIN)/ruff check src tests bench

format: setup
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: setup
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache node_modules $(WEBAPP)/static/build $(WEBAPP)/static/vendor \
		src/phoenyra/exchange/static/swagger \
		src/phoenyra/core/_compiled src/phoenyra/core/_compiled.new
