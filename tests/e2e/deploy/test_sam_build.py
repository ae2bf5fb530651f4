"""`sam build` (no containers) produces the function and layer artifacts, for arm64 and with bytecode."""

from __future__ import annotations

from pathlib import Path

import pytest

from localdev.deploy.build import function_runtime
from localdev.deploy.bytecode import bytecode_report
from localdev.deploy.tools import REPO
from localdev.tables import load_template

_ELF_MACHINE_AARCH64 = 0xB7


def _elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", f"{path} is not an ELF shared object"
    return int.from_bytes(header[18:20], "little")


def test_build_produces_both_functions_and_the_layer(arm64_build: Path) -> None:
    assert (arm64_build / "EdgeFunction" / "app.py").is_file()
    assert (arm64_build / "AuthorizerFunction" / "app.py").is_file()
    layer = arm64_build / "PorticoLayer" / "python"
    for package in ("portico", "pydantic", "pydantic_core", "aws_lambda_powertools", "yaml"):
        assert (layer / package / "__init__.py").is_file(), f"layer lacks {package}"
    assert (layer / "portico" / "core" / "problem.py").is_file()


def test_layer_native_code_is_built_for_arm64(arm64_build: Path) -> None:
    native = list((arm64_build / "PorticoLayer" / "python" / "pydantic_core").glob("*.so"))
    assert native, "pydantic_core has no compiled module in the layer"
    assert all(_elf_machine(so) == _ELF_MACHINE_AARCH64 for so in native), native


def test_built_template_points_at_the_artifacts(arm64_build: Path) -> None:
    resources = load_template(arm64_build / "template.yaml")["Resources"]
    assert resources["EdgeFunction"]["Properties"]["CodeUri"] == "EdgeFunction"
    assert resources["EdgeFunction"]["Properties"]["Handler"] == "app.handler"
    assert resources["PorticoLayer"]["Properties"]["ContentUri"] == "PorticoLayer"


# A few dependencies whose import the edge's cold start pays for, next to every portico module.
_LAYER_DEPENDENCIES = [
    "pydantic/main.py",
    "pydantic_core/__init__.py",
    "aws_lambda_powertools/logging/logger.py",
    "cryptography/x509/base.py",
    "yaml/__init__.py",
    "httptools/__init__.py",
]


@pytest.mark.parametrize("artifact", ["PorticoLayer/python", "EdgeFunction", "AuthorizerFunction"])
def test_artifact_ships_unchecked_hash_bytecode_for_every_module(arm64_build: Path, artifact: str) -> None:
    # /opt and /var/task are read-only on Lambda: a module without usable bytecode compiles on every cold start.
    runtime = function_runtime(load_template(REPO / "template.yaml"))
    report = bytecode_report(runtime, arm64_build / artifact)
    assert report.cache_tag == "cpython-" + runtime.removeprefix("python").replace(".", "")
    assert report.checked, f"{artifact} holds no Python source at all"
    shown = "\n  ".join(report.problems[:10])
    assert not report.problems, f"{len(report.problems)} of {len(report.checked)} modules lack bytecode:\n  {shown}"


def test_layer_bytecode_covers_portico_and_its_dependencies(arm64_build: Path) -> None:
    runtime = function_runtime(load_template(REPO / "template.yaml"))
    report = bytecode_report(runtime, arm64_build / "PorticoLayer" / "python")
    portico = sorted(p.relative_to(REPO / "shared").as_posix() for p in (REPO / "shared" / "portico").rglob("*.py"))
    missing = sorted(set(portico + _LAYER_DEPENDENCIES) - set(report.checked))
    assert not missing, f"the layer lacks {missing}"


def test_makefile_builds_for_the_templates_runtime_and_default_architecture() -> None:
    # SAM passes the make targets neither; localdev passes both, a bare `sam build` relies on these defaults.
    makefile = (REPO / "Makefile").read_text()
    template = load_template(REPO / "template.yaml")
    assert f"LAMBDA_RUNTIME ?= {function_runtime(template)}\n" in makefile
    assert f"LAMBDA_ARCHITECTURE ?= {template['Parameters']['Architecture']['Default']}\n" in makefile
