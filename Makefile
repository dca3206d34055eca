# Two commands do everything on a fresh machine:
#   make demo   set up, then reconcile the bundled sample into out/demo.duckdb
#   make test   set up, then run the test suite
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: setup demo test lint bench-accuracy bench-bulk clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: setup
	$(BIN)/mdm demo --db out/demo.duckdb

test: setup
	$(BIN)/ruff check mdm api tests benchmarks
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
