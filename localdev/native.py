"""Compiles the sidecar's hot modules with mypyc, in place, next to their sources (docs/native.md).

    python -m localdev.native            # build (make install runs it unless NATIVE=0)
    python -m localdev.native --sources  # print the compiled sources, one per line (the Makefile's prerequisites)
    python -m localdev.native --clean    # delete the built extensions: the interpreted package again

The list is `[tool.portico.native] modules` in pyproject.toml. mypyc turns each module into a C extension that
CPython imports in place of the .py (an extension module wins over source in the same folder); the code and its
types stay the same, checked by `mypy --strict` like the rest of shared/. The build is setuptools' `build_ext
--inplace` with mypyc's `mypycify`, as mypyc's own documentation shows; the compiled modules share one runtime
library, `portico.native__mypyc`, which sits in the package so the editable install finds it like any module.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_ROOT = ROOT / "shared"
GROUP = "portico.native"


def modules() -> list[str]:
    """The dotted names of the compiled modules, from pyproject.toml."""
    with (ROOT / "pyproject.toml").open("rb") as f:
        config = tomllib.load(f)
    names = config["tool"]["portico"]["native"]["modules"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise SystemExit("[tool.portico.native] modules must be a list of module names")
    return names


def sources() -> list[Path]:
    """The source file of each compiled module; a missing one is an error, not a silent skip."""
    paths = [PACKAGE_ROOT / (name.replace(".", "/") + ".py") for name in modules()]
    missing = [str(p.relative_to(ROOT)) for p in paths if not p.is_file()]
    if missing:
        raise SystemExit(f"[tool.portico.native] modules name files that do not exist: {', '.join(missing)}")
    return paths


def built() -> list[Path]:
    """Every extension the build leaves in the package (the modules' and the shared runtime library's)."""
    return sorted((PACKAGE_ROOT / "portico").rglob("*.so"))


def clean() -> None:
    for path in built():
        path.unlink()


def build() -> None:
    from mypyc.build import mypycify
    from setuptools import setup

    paths = [str(p.relative_to(PACKAGE_ROOT)) for p in sources()]
    clean()
    # mypycify reads the files relative to the working directory and names modules from their package folders.
    os.chdir(PACKAGE_ROOT)
    # opt_level 3 is mypyc's default for speed; debug_level 0 leaves out C debug info (smaller, same code).
    extensions = mypycify(
        paths, opt_level="3", debug_level="0", group_name=GROUP, target_dir=str(ROOT / "build" / "native" / "c")
    )
    setup(
        name="portico-native",
        package_dir={"": "."},
        ext_modules=extensions,
        script_args=[
            "--quiet",
            "build_ext",
            "--inplace",
            "--build-temp",
            str(ROOT / "build" / "native" / "o"),
            "--build-lib",
            str(ROOT / "build" / "native" / "lib"),
        ],
    )
    # build_ext copies each extension in place with its build-time mtime, and relinks a module's small shim only
    # when its C changed: stamp them all now, so an extension counts as newer than the source it was built from
    # (tests/conftest.py refuses stale ones).
    for path in built():
        os.utime(path)
        print(f"built {path.relative_to(ROOT)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localdev.native", description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--sources", action="store_true", help="print the compiled sources")
    action.add_argument("--clean", action="store_true", help="delete the built extensions")
    args = parser.parse_args(argv)
    if args.sources:
        for path in sources():
            print(path.relative_to(ROOT))
    elif args.clean:
        clean()
    else:
        build()
    return 0


if __name__ == "__main__":
    sys.exit(main())
