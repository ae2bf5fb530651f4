"""The gRPC transcoding benchmark runs end to end (tiny counts; figures are not asserted: it is not a timed test)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_grpc_bench_runs_quick() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "shared"), str(ROOT)])}
    out = subprocess.run(
        [sys.executable, "-m", "localdev.bench.grpc", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "edge CPU per request: grpc upstream" in out.stdout and "transcode only" in out.stdout
