"""Checks that a built artifact ships bytecode the Lambda runtime will use as it is, for every module in it.

Lambda mounts layers and function code read-only, so a module whose .pyc is missing, stale or written by another
Python is compiled from source on every cold start. The check runs on the runtime's own interpreter: the cache
tag (cpython-313), the magic number and the source hash key are that interpreter's, not the caller's.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from localdev.deploy.tools import runtime_interpreter

# Run by the runtime's interpreter with the artifact root as argv[1]; prints one JSON object.
_CHECK = r"""
import importlib.util, json, pathlib, sys
root = pathlib.Path(sys.argv[1])
checked, problems = [], []
for source in sorted(root.rglob("*.py")):
    name = source.relative_to(root).as_posix()
    checked.append(name)
    cached = pathlib.Path(importlib.util.cache_from_source(str(source)))
    if not cached.is_file():
        problems.append(f"{name}: no {cached.name}")
        continue
    header = cached.read_bytes()[:16]
    flags = int.from_bytes(header[4:8], "little")
    if header[:4] != importlib.util.MAGIC_NUMBER:
        problems.append(f"{name}: {cached.name} has another Python's magic number")
    elif flags != 0b01:  # PEP 552: bit 0 hash-based, bit 1 check_source; unchecked-hash is exactly 0b01
        problems.append(f"{name}: {cached.name} is not an unchecked-hash pyc (flags {flags:#04b})")
    elif header[8:16] != importlib.util.source_hash(source.read_bytes()):
        problems.append(f"{name}: {cached.name} was compiled from another version of the source")
print(json.dumps({"tag": sys.implementation.cache_tag, "checked": checked, "problems": problems}))
"""


@dataclass(frozen=True)
class BytecodeReport:
    """Every .py under an artifact root (relative, posix) and what is wrong with its bytecode, if anything."""

    cache_tag: str
    checked: list[str]
    problems: list[str]


def bytecode_report(runtime: str, root: Path) -> BytecodeReport:
    """Check every .py under `root` against the bytecode `runtime` (e.g. "python3.13") would load for it."""
    done = subprocess.run(
        [str(runtime_interpreter(runtime)), "-I", "-c", _CHECK, str(root)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found = json.loads(done.stdout)
    return BytecodeReport(found["tag"], found["checked"], found["problems"])


def strip_bytecode(root: Path) -> int:
    """Delete every __pycache__ under `root` (for measuring what bytecode saves); returns how many went."""
    caches = [p for p in root.rglob("__pycache__") if p.is_dir()]
    for cache in caches:
        for pyc in cache.iterdir():
            pyc.unlink()
        cache.rmdir()
    return len(caches)
