# The README's front door: `make demo` runs the whole job, `make test` runs the tests.
# Both create .venv and install everything on first use (torch 2.13.0 first: the CPU
# build on local disk; a looser requirement would pull a multi-GB CUDA build).
PY ?= python3
# `make demo PORT=8080 HOST=0.0.0.0` serves the demo elsewhere than 127.0.0.1:8000
HOST ?= 127.0.0.1
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 90

.PHONY: install demo test test-production lint typecheck bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/forecaster demo --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

# docker-compose.yml's services started as plain processes (PostgreSQL, migrate, Prefect server,
# worker, Dask scheduler + 2 workers, the API in production mode) and the faults; `make test`
# runs it too
test-production: $(STAMP)
	$(BIN)/pytest tests/production $(PYTEST_ARGS)

# ruff; the layering contract (pyproject's [tool.importlinter]); no module past 400 lines
lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache --no-logo
	@find forecaster api flows -name '*.py' | xargs wc -l | \
	  awk '$$2 != "total" && $$1 > 400 {print "too long (max 400 lines): " $$2 " " $$1; bad=1} END {exit bad}'

typecheck: $(STAMP)
	$(BIN)/mypy forecaster api flows

clean:
	rm -rf $(VENV) forecaster.db .pytest_cache .mypy_cache .ruff_cache
