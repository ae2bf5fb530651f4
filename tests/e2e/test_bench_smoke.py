"""Benchmarks run end to end (tiny counts; figures are not asserted: they are not timed tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("bench", "expected"),
    [
        ("edge", ["route match, 10,000 routes", "cold init: edge"]),
        ("grpc", ["edge CPU per request: grpc upstream", "transcode only"]),
        ("dynamodb", ["plain moto", "embedded", "atomic (every non-plain endpoint counted exactly): yes"]),
        ("portal", ["warm GET /_portico/docs", "imported: none"]),
    ],
)
def test_bench_runs_quick(bench: str, expected: list[str]) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "shared"), str(ROOT)])}
    out = subprocess.run(
        [sys.executable, "-m", f"localdev.bench.{bench}", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert all(line in out.stdout for line in expected)
