# Two commands do everything on a fresh machine:
#   make demo   set up, then reconcile the bundled sample into out/demo.duckdb
#   make test   set up, then run the test suite
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: setup lock demo test lint bench-accuracy bench-bulk clean

setup: $(VENV)/.installed

# The tested dependency set, exactly: requirements.lock pins every package with its
# hashes. pyproject.toml keeps the ranges for people who install the package.
$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Re-pin after changing pyproject.toml's dependencies (needs uv: pip install uv).
lock:
	uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes \
		--no-header -o requirements.lock

demo: setup
	$(BIN)/mdm demo --db out/demo.duckdb

test: setup
	$(BIN)/ruff check mdm api tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check mdm api tests benchmarks
	$(BIN)/ruff format --check mdm api tests benchmarks

bench-accuracy: setup
	$(BIN)/python benchmarks/accuracy.py

bench-bulk: setup
	$(BIN)/python benchmarks/bulk.py

clean:
	rm -rf out .pytest_cache
