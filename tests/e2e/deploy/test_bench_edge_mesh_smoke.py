"""The edge-mesh cold-start benchmark runs end to end (one run each; figures are not asserted: not a timed test)."""

from __future__ import annotations

import os
import subprocess
import sys

from localdev.deploy.tools import REPO


def test_edge_mesh_bench_runs_quick() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "shared"), str(REPO)])
    out = subprocess.run(
        [sys.executable, "-m", "localdev.bench.edge_mesh", "--quick"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    assert "first mesh certificate (LazyMeshClient.get)" in out.stdout and "first certificate / baseline" in out.stdout
