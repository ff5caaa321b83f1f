# The README's two commands: `make run` (the demo end to end) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test dev lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/mealytics demo

test: $(STAMP)
	$(BIN)/pytest

dev: $(STAMP)
	DAGSTER_HOME=$(CURDIR)/dagster_home $(BIN)/dagster dev -m pipelines.definitions

lint: $(STAMP)
	$(BIN)/ruff check pipelines models seeds tests benchmarks

clean:
	rm -rf $(VENV) data/*.db data/*.duckdb
