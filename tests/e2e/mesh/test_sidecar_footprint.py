"""The sidecar as it runs in production: config from the config table, AWS calls signed without boto3, and only
what it uses in memory (no CLI stack, no edge config kinds), with no false reports about edge Routes."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
import yaml

from portico.adapters.dynamodb.config_store import DynamoDbConfigStore
from portico.core.ports import StoredDocument
from tests.e2e.mesh.conftest import Mesh, get_via

pytestmark = pytest.mark.e2e

# An edge Route whose upstream is on loopback: invalid for the edge (no loopback upstreams), none of the sidecar's
# business. Before, every sidecar load logged it as a skipped invalid item.
CONFIG = """
apiVersion: portico/v1
kind: Route
metadata: {name: local-orders}
spec:
  match: {host: api.example.com, path: /orders}
  auth: {none: {}}
  upstream: {http: {url: "http://127.0.0.1:9/orders"}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: payments}
spec:
  hosts: [payments]
  http:
  - match: [{uri: {prefix: /teapot}}]
    fault: {abort: {httpStatus: 418}}
    route: [{destination: {host: payments}}]
  - route: [{destination: {host: payments}}]
"""

# Modules a sidecar must never load: the CLI's table/diff stack, boto3's client machinery and service models,
# the edge's config kinds, and cryptography (its certificates are made by the certworker child process).
NEVER = ("typer", "rich", "boto3", "botocore.client", "botocore.session", "botocore.loaders", "s3transfer")
NEVER += ("cryptography",)
# HTTP/2 (h2, hpack) loads on the first HTTP/2 stream, or at start for an h2c app: never in an HTTP/1.1-only mesh
NEVER += ("h2", "hpack", "hyperframe")
NEVER_PORTICO = ("portico.cli.main", "portico.core.config.route", "portico.core.config.identity", "portico.edge")


def _imported(log: str) -> set[str]:
    """Module names from the sidecar's `-X importtime` lines (PYTHONPROFILEIMPORTTIME=1)."""
    return {m.group(1) for m in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)$", log, re.M)}


def test_sidecar_reads_the_config_table_and_loads_only_what_it_uses(mesh: Mesh, tables: dict[str, str]) -> None:
    docs = [d for d in yaml.safe_load_all(CONFIG) if d]
    DynamoDbConfigStore(tables["config"]).apply(
        [StoredDocument(d["kind"], d["metadata"]["name"], d) for d in docs]
    )  # written with boto3, as `portico apply` does
    probe = {"PYTHONPROFILEIMPORTTIME": "1"}
    mesh.start("payments", config_file=False, env=probe)
    client = mesh.start("orders", app=False, config_file=False, env=probe)
    mesh.wait_for(client, "payments", 1)

    # the VirtualService came from the table through the sidecar's SigV4 JSON client, and it routes
    status, _ = get_via(client, "payments", "/teapot")
    assert status == 418
    status, body = get_via(client, "payments", "/anything")
    assert status == 200, body

    for inst in mesh.instances:
        log = mesh.log(inst)
        assert "skipped" not in log, log[-2000:]  # the edge Route is neither validated nor reported
        modules = _imported(log)
        assert "portico.mesh.sidecar" in modules and "awscrt.auth" in modules  # the probe did see the imports
        loaded = sorted(m for m in modules if m.split(".")[0] in NEVER or m in NEVER or m.startswith(NEVER_PORTICO))
        assert loaded == [], f"{inst.name} loaded {loaded}"


def test_invalid_mesh_documents_are_still_reported(mesh: Mesh, tables: dict[str, str]) -> None:
    bad: dict[str, Any] = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": "payments"},
        "spec": {"host": "payments", "trafficPolicy": {"loadBalancer": {"simple": "FASTEST"}}},
    }
    DynamoDbConfigStore(tables["config"]).apply([StoredDocument("DestinationRule", "payments", bad)])
    inst = mesh.start("payments", config_file=False)
    deadline = time.monotonic() + 10
    while "skipped invalid config item: DestinationRule/payments" not in mesh.log(inst):
        assert time.monotonic() < deadline, mesh.log(inst)[-2000:]
        time.sleep(0.1)
