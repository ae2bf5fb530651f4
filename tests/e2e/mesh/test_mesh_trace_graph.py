"""Observability acceptance 1 and 4 on a dev-up-like setup on free ports: the local front door (the real edge
Lambda code) calls the `orders` service over mTLS with the edge's own identity; orders calls payments through its
sidecar. One trace id runs through every hop's log line, and `portico graph` draws the calls from live /stats."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.mesh.conftest import Instance, Mesh

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[3]

MESH = """
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: payments-charge}
spec:
  selector: {matchLabels: {app: payments}}
  action: ALLOW
  rules:
    - from: [{source: {principals: [cluster.local/ns/default/sa/orders]}}]
      to: [{operation: {methods: [GET], paths: [/charge]}}]
"""

EDGE = """
apiVersion: portico/v1
kind: Route
metadata: {name: shop-order}
spec:
  match: {methods: [GET], path: "/shop/orders/{orderId}"}
  auth: {none: {}}
  upstream: {service: {name: orders, path: "/orders/{orderId}", timeout: 5s}}
"""


@dataclass
class Shop:
    mesh: Mesh
    orders: Instance
    payments: Instance
    front_door: str
    edge_log: Path

    def get(self, path: str) -> tuple[int, str, bytes]:
        try:
            with urllib.request.urlopen(self.front_door + path, timeout=10) as r:
                return r.status, r.headers.get("x-request-id", ""), r.read()
        except urllib.error.HTTPError as e:
            with e:  # closed: an HTTPError holds the connection's socket
                return e.code, e.headers.get("x-request-id", ""), e.read()


@pytest.fixture
def shop(mesh: Mesh, spawn: Callable[..., str], tmp_path: Path, pca_arn: str, tables: dict[str, str]) -> Iterator[Shop]:
    mesh.config(MESH)
    payments = mesh.start("payments")
    orders = mesh.start("orders", app_args=["--outbound", "127.0.0.1:{outbound}"])
    mesh.wait_for(orders, "payments", 1)
    (tmp_path / "edge.yaml").write_text(EDGE)
    env = {
        "PORTICO_PCA_ARN": pca_arn,  # the edge's own certificate comes from the same private CA
        "PORTICO_REGISTRY_TABLE": tables["registry"],
        "PORTICO_REGISTRY_STALE_AFTER": "3",
    }
    base = spawn("localdev.frontdoor", "--config", str(tmp_path / "edge.yaml"), env=env)
    yield Shop(mesh, orders, payments, base, tmp_path / "localdev.frontdoor-0.log")


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{") and '"trace_id"' in line]


def test_one_trace_id_in_the_log_line_of_every_hop(shop: Shop) -> None:
    deadline = time.monotonic() + 15
    while (answer := shop.get("/shop/orders/7"))[0] != 200:  # orders' registration may take a heartbeat
        assert time.monotonic() < deadline, answer
        time.sleep(0.2)
    _, request_id, body = answer
    assert json.loads(body)["payments"]["path"] == "/charge"  # orders reached payments: the edge -> mesh path works

    time.sleep(0.3)  # log lines are written as each hop finishes
    edge = [x for x in _lines(shop.edge_log.read_text()) if x.get("correlation_id") == request_id]
    assert len(edge) == 1 and edge[0]["route"] == "shop-order"
    trace = edge[0]["trace_id"]
    hops = {
        (x["reporter"], x["source"], x["destination"]): x
        for inst in (shop.orders, shop.payments)
        for x in _lines(shop.mesh.log(inst))
        if x.get("request_id") == request_id
    }
    # edge -> orders (inbound, caller named by its SPIFFE id), orders -> payments (outbound), payments (inbound)
    into_orders = hops["destination", "edge", "orders"]
    out_of_orders = hops["source", "orders", "payments"]
    into_payments = hops["destination", "orders", "payments"]
    assert {h["trace_id"] for h in hops.values()} == {trace}
    # each hop's span is the parent of the next: the chain has no gap
    assert into_orders["parent_span_id"] == edge[0]["span_id"]
    assert out_of_orders["parent_span_id"] == into_orders["span_id"]  # the app copied traceparent through
    assert into_payments["parent_span_id"] == out_of_orders["span_id"]
    assert all(h["duration_ms"] >= 0 and h["status"] == 200 for h in hops.values())  # per-hop timing
    assert into_orders["duration_ms"] >= out_of_orders["duration_ms"]  # the outer hop includes the inner one


def test_portico_graph_draws_the_calls_from_live_sidecars(shop: Shop, tmp_path: Path) -> None:
    from localdev.dev.run import DevRun

    # recorded as `dev up` records its sidecars, so `portico graph` finds them without --admin
    run = DevRun(root=tmp_path, env={}, state_dir=tmp_path / ".portico")
    run.state_dir.mkdir()
    for inst in (shop.orders, shop.payments):
        run.sidecar(inst.name, f"http://127.0.0.1:{inst.admin}")
    stop = threading.Event()

    def traffic() -> None:  # about 20 requests a second through the front door
        while not stop.wait(0.05):
            shop.get("/shop/orders/1")

    worker = threading.Thread(target=traffic, daemon=True)
    worker.start()
    try:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "shared"), str(ROOT)]), "COLUMNS": "160"}
        argv = [sys.executable, "-m", "portico", "graph", "--interval", "2", "-o", str(tmp_path / "graph")]
        out = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    finally:
        stop.set()
        worker.join(timeout=15)
    assert out.returncode == 0, out.stderr
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in out.stdout.splitlines() if line.count("│") > 5]
    edges = {(r[0], r[1]): r for r in rows}
    assert set(edges) >= {("edge", "orders"), ("orders", "payments")}, out.stdout
    for key in (("edge", "orders"), ("orders", "payments")):
        rps, errors, p99 = float(edges[key][2]), float(edges[key][3].rstrip("%")), float(edges[key][4])
        assert 2 < rps < 60 and errors == 0 and 0 < p99 < 2000, edges[key]
    svg = (tmp_path / "graph.svg").read_text()
    assert svg.startswith("<svg") and svg.count('class="edge"') >= 2
    mermaid = (tmp_path / "graph.mmd").read_text()
    assert mermaid.startswith("flowchart LR") and "edge" in mermaid and "payments" in mermaid and "rps" in mermaid
