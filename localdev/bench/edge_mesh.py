"""What the mesh adds to an edge cold start: the edge's first certificate, against a first DynamoDB call.

`python -m localdev.bench.edge_mesh [--runs N]`. Each run is a fresh process (cold imports, new clients, as a
Lambda cold start) against the embedded local AWS endpoint started here:
- baseline: import boto3, make a DynamoDB client and do one GetItem (what every edge cold start pays to read
  its config version);
- first certificate: the edge's LazyMeshClient.get() with the deployed variables: import the mesh code, make an
  EC key and a CSR with the SPIFFE URI SAN, DescribeCertificateAuthority, IssueCertificate, the waiter's
  GetCertificate, GetCertificateAuthorityCertificate for the trust bundle, TLS contexts.
Reported: the median of the runs for each and their ratio. The local Private CA answers at once; on AWS the
issuance is asynchronous (GetCertificate may say RequestInProgress and the waiter polls every second), so add
AWS's issuance latency to the local figure. The VPC attachment of the function cannot be measured here.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

_BASELINE = """
import time, json
t0 = time.perf_counter()
import boto3
boto3.client("dynamodb").get_item(TableName=%(table)r, Key={"service": {"S": "x"}, "instanceId": {"S": "y"}})
print(json.dumps({"seconds": time.perf_counter() - t0}))
"""

_FIRST_CERTIFICATE = """
import asyncio, json, os, time
t0 = time.perf_counter()
from portico.edge.mesh_client import LazyMeshClient
async def first():
    mesh = LazyMeshClient(dict(os.environ))
    await mesh.get()
    elapsed = time.perf_counter() - t0
    if mesh._renewal is not None:
        mesh._renewal.cancel()
    return elapsed
print(json.dumps({"seconds": asyncio.run(first())}))
"""


def _run(code: str, env: dict[str, str]) -> float:
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    return float(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localdev.bench.edge_mesh", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one run each (the smoke test)")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs = 1
    from localdev import aws
    from localdev.dev.ca import ensure_root_ca
    from localdev.tables import create_tables
    from portico.adapters.aws import client

    with aws.serving():
        suffix = uuid.uuid4().hex[:8]
        tables = {role: f"bench-{role}-{suffix}" for role in ("config", "quota", "registry")}
        create_tables(client("dynamodb"), tables)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")}
        env["PYTHONPATH"] = os.pathsep.join([str(REPO / "shared"), str(REPO)])
        env.update({f"PORTICO_{role.upper()}_TABLE": name for role, name in tables.items()})
        env.update({"PORTICO_PCA_ARN": ensure_root_ca(client("acm-pca")), "PORTICO_EDGE_IDENTITY": "edge"})
        baseline = [_run(_BASELINE % {"table": tables["registry"]}, env) for _ in range(args.runs)]
        certificate = [_run(_FIRST_CERTIFICATE, env) for _ in range(args.runs)]
    b, c = statistics.median(baseline), statistics.median(certificate)
    print(f"{'edge cold start, local endpoint':44} {'median':>9}   runs (ms)")
    for label, median, runs in (
        ("baseline: boto3 + first DynamoDB GetItem", b, baseline),
        ("first mesh certificate (LazyMeshClient.get)", c, certificate),
    ):
        print(f"{label:44} {median * 1000:7.0f} ms   {[round(x * 1000) for x in runs]}")
    print(f"first certificate / baseline: {c / b:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
