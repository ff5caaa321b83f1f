# The README's two commands: `make run` (the demo end to end) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test dev lint docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/mealytics demo

test: $(STAMP)
	scripts/system-deps.sh
	$(BIN)/pytest

# umask 077: the webserver's and daemon's files in dagster_home/ (runs, event logs) are the
# owner's only, like everything the runs write (pipelines.settings.owner_only_files).
dev: $(STAMP)
	umask 077 && DAGSTER_HOME=$(CURDIR)/dagster_home $(BIN)/dagster dev -m pipelines.definitions

# dbt's documentation of every model and column (with the warehouse's catalog after `make run`):
# data/dbt_docs/static_index.html opens offline; the Dagster assets link to it (dbt_docs).
DOCS_DIR ?= $(CURDIR)/data/dbt_docs
docs: $(STAMP)
	DBT_SEND_ANONYMOUS_USAGE_STATS=false $(BIN)/dbt docs generate --static \
		--project-dir dbt_project --profiles-dir dbt_project \
		--target-path $(DOCS_DIR) --log-path $(DOCS_DIR)/logs
	@echo "open $(DOCS_DIR)/static_index.html"

# SQLFluff renders the models with dbt (dbt_project/.sqlfluff), which opens the profile's
# DuckDB: an in-memory one, so no warehouse is needed or touched; its dbt target goes under
# target/sqlfluff so the project's own manifest is left alone.
lint: $(STAMP)
	$(BIN)/ruff check pipelines models seeds tests benchmarks
	cd dbt_project && MEALYTICS_WAREHOUSE=:memory: DBT_SEND_ANONYMOUS_USAGE_STATS=false \
		DBT_TARGET_PATH=target/sqlfluff DBT_LOG_PATH=target/sqlfluff/logs \
		$(CURDIR)/$(BIN)/sqlfluff lint models tests snapshots

clean:
	rm -rf $(VENV) data/*.db data/*.duckdb
