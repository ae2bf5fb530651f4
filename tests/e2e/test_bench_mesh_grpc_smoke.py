"""The gRPC mesh benchmark runs end to end (tiny durations; figures are not asserted: it is not a timed test). It
checks what makes the comparison valid: both proxy pairs carried real gRPC calls over mTLS without a failure."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_mesh_grpc_bench_runs_quick(tmp_path: Path) -> None:
    if shutil.which("h2load") is None:
        pytest.fail("h2load is missing: `make system-deps` installs Debian's nghttp2-client")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "shared"), str(ROOT)])}
    out = tmp_path / "grpc.json"
    run = subprocess.run(
        [sys.executable, "-m", "localdev.bench.mesh_grpc", "--quick", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    (figures,) = json.loads(out.read_text())["runs"]
    assert set(figures) == {"direct", "portico", "envoy"}
    for name, x in figures.items():
        assert x["calls"] > 0 and x["failed"] == 0, (name, x)
    for proxy in ("portico", "envoy"):
        assert len(figures[proxy]["rss_mib"]) == 2 and figures[proxy]["cpu_us_per_call"] > 0
    assert "median portico/envoy calls/s" in run.stdout
