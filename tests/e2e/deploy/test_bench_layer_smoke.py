"""The layer benchmark runs end to end on the session's host build (figures are not asserted: not a timed test)."""

from __future__ import annotations

import os
import subprocess
import sys

from localdev.deploy.stack import LocalDeployment
from localdev.deploy.tools import REPO


def test_layer_bench_runs_quick(local_deployment: LocalDeployment) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "shared"), str(REPO)])}
    out = subprocess.run(
        [sys.executable, "-m", "localdev.bench.layer", "--quick", "--build-dir", str(local_deployment.build_dir)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    assert "layer ships bytecode" in out.stdout and "source only" in out.stdout
