"""The mesh benchmark runs end to end with mTLS on both peers (tiny durations; figures are not asserted: it is not a
timed test). It checks what makes the comparison valid: every path answered without errors over pooled mTLS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_mesh_bench_runs_quick(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "shared"), str(ROOT)])}
    out = tmp_path / "mesh.json"
    run = subprocess.run(
        [sys.executable, "-m", "localdev.bench.mesh", "--quick", "--connections", "8", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    results = json.loads(out.read_text())["results"]
    assert set(results) == {"direct", "portico", "envoy"}
    for name, figures in results.items():
        assert figures["requests"] > 0 and figures["errors"] == 0, (name, figures)
    for proxy in ("portico", "envoy"):  # both proxies measured, over kept-alive mTLS connections between them
        assert len(results[proxy]["rss_mib"]) == 2 and min(results[proxy]["rss_mib"]) > 0
        assert 0 < results[proxy]["pooled_mtls_connections"] <= 8 * 4, results[proxy]
    assert "RSS per proxy portico/envoy" in run.stdout
