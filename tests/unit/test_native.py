"""The mypyc build's module list and what `make install` left in the package (docs/native.md)."""

from __future__ import annotations

import importlib

import pytest

from localdev import native


def test_every_listed_module_has_a_source_in_the_package() -> None:
    names = native.modules()
    assert names, "[tool.portico.native] modules is empty"
    assert len(set(names)) == len(names)
    for name, path in zip(names, native.sources(), strict=True):
        assert name.startswith("portico.")
        assert path.is_file() and path.suffix == ".py"


def test_a_built_package_imports_every_listed_module_compiled() -> None:
    """After `make install` (NATIVE=1, the default) no listed module may fall back to its source unnoticed."""
    if not native.built():
        pytest.skip("interpreted build (make install NATIVE=0)")
    for name in native.modules():
        module = importlib.import_module(name)
        assert (module.__file__ or "").endswith(".so"), f"{name} is imported from {module.__file__}"


def test_a_missing_source_is_an_error_not_a_skip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(native, "modules", lambda: ["portico.core.headers", "portico.core.no_such_module"])
    with pytest.raises(SystemExit, match="no_such_module"):
        native.sources()
