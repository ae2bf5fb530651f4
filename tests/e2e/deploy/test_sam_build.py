"""`sam build` (no containers) produces the function and layer artifacts, for arm64 as the template says."""

from __future__ import annotations

from pathlib import Path

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
