# Portico: `make dev` runs it locally, `make test` runs the whole suite. Both install what they need first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test lint typecheck unit functional e2e install bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

dev: install
	$(BIN)/portico dev up

LINT_PATHS := $(wildcard shared functions localdev tests)

lint: install
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest tests/unit

functional: install
	$(BIN)/pytest tests/functional

e2e: install
	$(BIN)/pytest tests/e2e

test: lint typecheck
	$(BIN)/pytest

bench: install
	$(BIN)/python -m localdev.bench

clean:
	rm -rf $(VENV) .portico .pytest_cache .mypy_cache .ruff_cache
