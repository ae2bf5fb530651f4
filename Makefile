# Portico: `make dev` runs it locally, `make test` runs the whole suite. Both install what they need first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The deploy toolchain (SAM CLI, cfn-lint, checkov, hadolint) lives in its own venv: see infra/tools-requirements.txt.
TOOLS_VENV := .venv-tools
TOOLS_STAMP := $(TOOLS_VENV)/.installed

.PHONY: dev test lint typecheck unit functional e2e install tools deploy-local bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

$(TOOLS_STAMP): infra/tools-requirements.txt
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS_VENV)/bin/python -m pip install --quiet -r infra/tools-requirements.txt
	touch $(TOOLS_STAMP)

tools: $(TOOLS_STAMP)

# Deploys template.yaml into the local endpoint named by AWS_ENDPOINT_URL (see docs/deploy.md).
deploy-local: install tools
	$(BIN)/python -m localdev.deploy

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

e2e: install tools
	$(BIN)/pytest tests/e2e

test: lint typecheck tools
	$(BIN)/pytest

bench: install
	$(BIN)/python -m localdev.bench

clean:
	rm -rf $(VENV) $(TOOLS_VENV) .aws-sam .portico .pytest_cache .mypy_cache .ruff_cache
