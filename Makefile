# hookmail — `make run` to start it, `make test` to check everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-fast lint typecheck migrate bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/hookmail serve

migrate: $(STAMP)
	$(BIN)/hookmail migrate

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy --strict src tests

test: lint typecheck
	$(BIN)/pytest tests/unit tests/integration

test-fast: $(STAMP)
	$(BIN)/pytest -m "not integration and not e2e" tests

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

bench: $(STAMP)
	$(BIN)/python bench/e2e.py -n 2000
	$(BIN)/python bench/e2e.py -n 2000 --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
