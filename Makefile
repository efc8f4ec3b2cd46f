# hookmail — `make run` to start it, `make test` to check everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install lock run test test-fast lint typecheck migrate bench clean browser screenshots

LOCK := requirements.lock

# Exactly the tested set: every package pinned, with hashes, in requirements.lock (main and
# dev dependencies); then hookmail itself, without resolving anything again.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# Re-pin every dependency of pyproject.toml (main + dev) to the newest allowed release, for
# every platform, with hashes. Run it after changing dependencies; commit the lock it writes.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
	  --generate-hashes --native-tls --quiet --no-header --output-file $(LOCK).new
	@if cmp -s $(LOCK).new $(LOCK); then rm $(LOCK).new; echo "$(LOCK) is up to date"; \
	  else mv $(LOCK).new $(LOCK); echo "$(LOCK) rewritten: review and commit it"; fi

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

test: lint typecheck browser
	$(BIN)/pytest tests/unit tests/integration tests/browser

# The browser tests drive Debian's Chromium (never `playwright install`, which downloads a
# browser of its own). Installed here when missing and we are root with apt-get; elsewhere
# the browser tests skip saying why (and fail under CI).
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "chromium is missing and can't be installed here: the browser tests will skip"; \
	  fi; \
	fi

# docs/dashboard.md's screenshots, taken by the browser tests.
screenshots: $(STAMP) browser
	HOOKMAIL_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q tests/browser

# The unit tests alone (tests/unit: the core on the in-memory fakes, no socket, no database),
# in seconds. The marker guards against a slow test filed there by mistake; tests/integration
# holds unmarked tests of real adapters too, so it is left out by path, not by marker.
test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not integration and not e2e" tests/unit

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

bench: $(STAMP)
	$(BIN)/python bench/e2e.py -n 2000
	$(BIN)/python bench/e2e.py -n 2000 --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
	$(BIN)/python bench/e2e.py -n 2000 --connections 16 --workers 2 --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
