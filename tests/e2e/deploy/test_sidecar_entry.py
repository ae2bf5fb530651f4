"""The sidecar image's entry command runs from a freshly built wheel outside a container, with the same arguments.

There is no Docker engine here, so the test does what the Dockerfile does, step by step: copy exactly the files
its COPY lines name, build the wheel with pip, install it with the extras the Dockerfile installs into a fresh
venv of the image's Python version, then run ENTRYPOINT + CMD (+ --help, so it exits instead of serving).

Note: until the mesh team's `portico sidecar` command lands, `portico --help` lists no `sidecar` command; the
test then proves the console script itself runs from the wheel and, as soon as `sidecar` is listed, checks the
full ENTRYPOINT + CMD.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from localdev.deploy.tools import REPO, runtime_interpreter

DOCKERFILE = REPO / "infra" / "sidecar" / "Dockerfile"


def _instruction(name: str) -> list[str]:
    """The JSON-array (exec form) arguments of the Dockerfile's last `name` instruction."""
    lines = [line for line in DOCKERFILE.read_text().splitlines() if line.startswith(f"{name} ")]
    assert lines, f"Dockerfile has no {name}"
    return list(json.loads(lines[-1][len(name) + 1 :]))


def _build_context(into: Path) -> Path:
    """Copy what the wheel stage's COPY lines name, and only that, into a fresh build context."""
    into.mkdir(parents=True)
    wheel_stage = DOCKERFILE.read_text().split("\nFROM ")[1]
    for line in wheel_stage.splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            *sources, _ = line.split()[1:]
            for source in sources:
                src = REPO / source
                if src.is_dir():
                    shutil.copytree(src, into / source, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy2(src, into / source)
    return into


@pytest.fixture(scope="module")
def sidecar_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv of the image's Python with the wheel installed as the Dockerfile installs it; its bin dir."""
    root = tmp_path_factory.mktemp("sidecar-wheel")
    base = re.search(r"^FROM python:(\d+\.\d+)", DOCKERFILE.read_text(), re.MULTILINE)
    assert base, "the Dockerfile's base image is not python:X.Y"
    python = runtime_interpreter(f"python{base.group(1)}")
    venv = root / "venv"
    subprocess.run([str(python), "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "--quiet"]
    context = _build_context(root / "context")
    subprocess.run([*pip, "wheel", "--no-deps", "--wheel-dir", str(root / "dist"), str(context)], check=True)
    extras = re.search(r"portico-\*\.whl.*?\[([a-z,]+)\]", DOCKERFILE.read_text())
    assert extras, "the Dockerfile no longer installs the wheel with extras"
    (wheel,) = (root / "dist").glob("portico-*.whl")
    subprocess.run([*pip, "install", f"{wheel}[{extras.group(1)}]"], check=True, timeout=600)
    return venv / "bin"


def _run(bin_dir: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    command = [str(bin_dir / args[0]), *args[1:]]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, cwd=bin_dir)


def test_entry_command_runs_from_the_fresh_wheel(sidecar_venv: Path) -> None:
    entrypoint, cmd = _instruction("ENTRYPOINT"), _instruction("CMD")
    assert entrypoint[0] == "portico"
    top = _run(sidecar_venv, [entrypoint[0], "--help"])
    assert top.returncode == 0, top.stderr
    if re.search(r"\bsidecar\b", top.stdout):
        full = _run(sidecar_venv, [*entrypoint, *cmd, "--help"])
        assert full.returncode == 0, full.stdout + full.stderr
        for flag in cmd:
            if flag.startswith("--"):
                assert flag in full.stdout, f"`{' '.join(entrypoint)}` does not accept {flag}:\n{full.stdout}"
    else:
        # `portico sidecar` has not landed yet: the console script must still run from the wheel.
        assert "Usage: portico" in top.stdout
