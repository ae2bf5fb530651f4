"""The composition benchmark runs end to end (three runs; figures are not asserted: it is not a timed test)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[3]


def test_bench_aggregate_runs() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "shared"), str(ROOT)])}
    result = subprocess.run(
        [sys.executable, "-m", "localdev.bench.aggregate", "--runs", "3"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ratio aggregate/single" in result.stdout and "hit/mock" in result.stdout
