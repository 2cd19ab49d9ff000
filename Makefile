# Two commands a fresh machine needs: `make demo` and `make test`.
# Both create (or reuse) the virtual environment at .venv themselves.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# the demo needs the library only; tests and docs need the extras on top
BASE_STAMP := $(VENV)/.installed-base
STAMP := $(VENV)/.installed-stamp

.PHONY: venv demo test test-min lint format docs bench clean

$(BASE_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(BASE_STAMP)

$(STAMP): pyproject.toml $(BASE_STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,spark,docs]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(BASE_STAMP)
	$(BIN)/needsid demo

lint: $(STAMP)
	$(BIN)/ruff check src tests experiments docs
	$(BIN)/ruff format --check src tests experiments docs
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests experiments
	$(BIN)/ruff check --fix src tests experiments

test: lint
	$(BIN)/python -m pytest
	$(BIN)/python -m pytest --nbmake notebooks -p no:cacheprovider

# The same suite on the oldest releases pyproject.toml allows: every `>=` floor pinned
# (.ci/min_constraints.py writes name==floor), in a venv of its own rebuilt from scratch
# when the floors change. A floor that is not tested is a guess.
MIN_VENV := .venv-min
MIN_STAMP := $(MIN_VENV)/.installed-stamp

$(MIN_STAMP): pyproject.toml .ci/min_constraints.py
	rm -rf $(MIN_VENV)
	$(PYTHON) -m venv $(MIN_VENV)
	$(PYTHON) .ci/min_constraints.py dev spark docs > $(MIN_VENV)/constraints.txt
	$(MIN_VENV)/bin/python -m pip install --quiet -c $(MIN_VENV)/constraints.txt -e ".[dev,spark,docs]"
	touch $(MIN_STAMP)

# One test is left to `make test`, which runs it on the newest releases: the MLflow
# server on PostgreSQL. MLflow 3.0-3.7's server fails search_runs there (psycopg:
# "operator does not exist: integer = character varying"); the MLflow releases that
# pass need a newer pydantic than its floor.
MIN_DESELECT := \
	--deselect tests/test_services.py::test_mlflow_server_on_postgres_train_register_promote_flag

# The notebooks run in `make test` only: at ipykernel's floor (6.0.2) the kernel uses
# pyzmq's deprecated ioloop, and the suite turns that warning into an error.
test-min: $(MIN_STAMP)
	$(MIN_VENV)/bin/python -m pytest -p no:cacheprovider $(MIN_DESELECT)

# the documentation site, strict: a warning fails the build (site in docs/site/)
docs: $(STAMP)
	$(BIN)/mkdocs build --strict --config-file docs/mkdocs.yml

bench: $(STAMP)
	$(BIN)/python experiments/bench_simulate.py

clean:
	rm -rf $(VENV) $(MIN_VENV) .pytest_cache .ruff_cache docs/site
