"""Acceptance 2 of the App Mesh import: the colour walkthrough's weighted routes, imported with `portico import
appmesh`, applied with `portico apply` to the config table on the local AWS endpoint, split real traffic through
real sidecars (mTLS, registry, AuthorizationPolicy from the imported backends) within 2 points of the weights.

AWS's fargate walkthrough routes colorteller 2:1 to blue and green (67/33 after scaling to 100); the project's own
`colorteller-route-black-80-blue-20.json` is the `aws appmesh update-route` that moves traffic to black/blue 80/20.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from localdev.bench.loadgen import run_load
from portico.cli.main import app
from tests.e2e.mesh.conftest import Instance, Mesh
from tests.unit.appmesh.support import EXAMPLES, FIXTURES

pytestmark = pytest.mark.e2e

FARGATE = EXAMPLES / "walkthroughs" / "fargate" / "appmesh-colorapp.yaml"
PARAMS = ["--param", "ServicesDomain=appmesh-demo.local", "--param", "AppMeshMeshName=colorapp"]
HOST = "colorteller.appmesh-demo.local"
REQUESTS = 2000


def _import(out: Path, *files: Path) -> dict[str, Any]:
    args = ["import", "appmesh", *(a for f in files for a in ("-f", str(f))), *PARAMS, "-o", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return {s["node"]: s for s in yaml.safe_load((out / "sidecars.yaml").read_text())["sidecars"]}


def _apply(path: Path) -> int:
    result = CliRunner().invoke(app, ["apply", "-f", str(path)])
    assert result.exit_code == 0, result.output
    return int(result.stdout.rsplit("version", 1)[1].split()[0])


def _weights(path: Path) -> dict[str, int]:
    docs = list(yaml.safe_load_all(path.read_text()))
    vs = next(d for d in docs if d["kind"] == "VirtualService" and d["spec"]["hosts"] == [HOST])
    return {r["destination"]["subset"]: r["weight"] for r in vs["spec"]["http"][0]["route"]}


def _start(mesh: Mesh, settings: dict[str, Any], app_needed: bool = True) -> Instance:
    labels = ",".join(f"{k}={v}" for k, v in settings["labels"].items())
    return mesh.start(
        settings["service"],
        version=settings["node"],
        labels=labels,
        app=app_needed,
        env=settings.get("env", {}),
        config_file=False,
    )


def _shares(client: Instance) -> dict[str, float]:
    run = asyncio.run(run_load("127.0.0.1", client.outbound, host_header=HOST, connections=4, requests=REQUESTS))
    assert not run.errors and run.statuses() == {200: REQUESTS}, (
        run.errors[:3],
        run.statuses(),
        run.replies[0].body[:200],
    )
    seen: dict[str, int] = {}
    for reply in run.replies:
        node = json.loads(reply.body)["version"]
        seen[node] = seen.get(node, 0) + 1
    return {node: 100 * n / REQUESTS for node, n in seen.items()}


def _wait_version(client: Instance, version: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if client.dump().get("configVersion") == version:
            return
        time.sleep(0.1)
    raise AssertionError(f"the sidecar never loaded config version {version}")


@pytest.mark.skipif(not FARGATE.exists(), reason=f"AWS App Mesh examples not found at {EXAMPLES}")
def test_imported_weighted_routes_split_real_traffic(mesh: Mesh, tmp_path: Path) -> None:
    sidecars = _import(tmp_path / "fargate", FARGATE)
    version = _apply(tmp_path / "fargate" / "portico.yaml")
    imported = _weights(tmp_path / "fargate" / "portico.yaml")
    assert imported == {"colorteller-blue-vn": 67, "colorteller-green-vn": 33}

    for node in ("colorteller-blue-vn", "colorteller-green-vn", "colorteller-white-vn", "colorteller-black-vn"):
        _start(mesh, sidecars[node])
    # the gateway node calls colorteller: the imported AuthorizationPolicy allows its SPIFFE identity
    client = _start(mesh, sidecars["colorgateway-vn"], app_needed=False)
    for node in ("colorteller-blue-vn", "colorteller-green-vn", "colorteller-black-vn"):
        mesh.wait_for(client, sidecars[node]["service"], 1)  # each node registers under its DNS name's service
    _wait_version(client, version)

    shares = _shares(client)
    print(f"fargate 2:1 imported as {imported}; {REQUESTS} requests: {shares}")
    for node, weight in imported.items():
        assert abs(shares.get(node, 0) - weight) <= 2, (node, shares)
    assert "colorteller-white-vn" not in shares and "colorteller-black-vn" not in shares

    # the walkthrough's next step: `aws appmesh update-route` with black 80 / blue 20, imported and applied live
    _import(tmp_path / "update", FARGATE, FIXTURES / "colorteller-route-black-80-blue-20.json")
    version = _apply(tmp_path / "update" / "portico.yaml")
    updated = _weights(tmp_path / "update" / "portico.yaml")
    assert updated == {"colorteller-black-vn": 80, "colorteller-blue-vn": 20}
    _wait_version(client, version)
    shares = _shares(client)
    print(f"update-route black 8 : blue 2 imported as {updated}; {REQUESTS} requests: {shares}")
    for node, weight in updated.items():
        assert abs(shares.get(node, 0) - weight) <= 2, (node, shares)
    assert set(shares) == set(updated)
