"""Issue 19: a plain `pip install` of the wheel gives a working `portico --help`, and `portico dev` outside a
checkout says what to do instead of failing on an import (the local-development parts are not in the wheel)."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(600)
def test_plain_pip_install_of_the_wheel_runs_portico_help(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(ROOT)],
        check=True,
        timeout=300,
        cwd=tmp_path,
    )
    [wheel] = wheels.glob("portico-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    subprocess.run([str(bin_dir / "pip"), "install", "--quiet", str(wheel)], check=True, timeout=400, cwd=tmp_path)

    shown = subprocess.run(
        [str(bin_dir / "portico"), "--help"], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert shown.returncode == 0, shown.stderr
    assert "Usage: portico" in shown.stdout and "ModuleNotFoundError" not in shown.stderr

    dev = subprocess.run(
        [str(bin_dir / "portico"), "dev", "up"], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert dev.returncode == 1 and "Traceback" not in dev.stderr
    assert "not part of the installed package" in dev.stderr and "make dev" in dev.stderr
