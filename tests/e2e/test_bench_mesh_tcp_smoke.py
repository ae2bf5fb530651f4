"""The mesh TCP benchmark runs end to end over mTLS on both peers (tiny sizes; figures are not asserted: it is not a
timed test). It checks what makes the comparison valid: both proxy pairs carried the bytes and the connections."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_mesh_tcp_bench_runs_quick(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "shared"), str(ROOT)])}
    out = tmp_path / "mesh_tcp.json"
    run = subprocess.run(
        [sys.executable, "-m", "localdev.bench.mesh_tcp", "--quick", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    report = json.loads(out.read_text())
    (figures,) = report["runs"]
    for proxy in ("portico", "envoy"):
        f = figures[proxy]
        assert f["mb_per_s"] > 0 and f["connections"] > 0 and f["errors"] == 0, (proxy, f)
        assert len(f["rss_mib"]) == 2 and min(f["rss_mib"]) > 0
    assert "median portico/envoy throughput" in run.stdout
