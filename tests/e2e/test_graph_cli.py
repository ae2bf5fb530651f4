"""Acceptance 4 on a dev-like setup: `portico graph` scrapes live sidecar admin endpoints twice and shows the call
edges with rps, error rate and p99, then writes an SVG image and a mermaid file.

The sidecars here are stand-ins (an admin /stats server each, fed by the real sidecar telemetry code while a
thread plays the demo's traffic), because the sidecar itself is not on main yet; once it is, the same command
runs against `portico dev up` (the run state lists every sidecar's admin URL).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from portico.adapters.clock import SystemClock
from portico.mesh.telemetry import MeshTelemetry

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def _serve(tel: MeshTelemetry) -> ThreadingHTTPServer:
    class Admin(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = tel.registry.render().encode() if self.path == "/stats" else b"not found"
            self.send_response(200 if self.path == "/stats" else 404)
            self.send_header("content-type", "text/plain; version=0.0.4")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Admin)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def mesh() -> Iterator[dict[str, str]]:
    rng = random.Random(11)
    orders = MeshTelemetry("orders", SystemClock(), rng.randbytes)
    payments = MeshTelemetry("payments", SystemClock(), rng.randbytes)
    stop = threading.Event()

    def traffic() -> None:  # ~100 calls/s: clients -> orders, orders -> payments (5% 503)
        while not stop.wait(0.01):
            orders.record("destination", "unknown", "orders", 200, rng.uniform(5, 15))
            code = 503 if rng.random() < 0.05 else 200
            ms = rng.uniform(1, 4) if code == 200 else 30.0
            orders.record("source", "orders", "payments", code, ms)
            payments.record("destination", "orders", "payments", code, ms - 0.5)

    worker = threading.Thread(target=traffic, daemon=True)
    worker.start()
    servers = [_serve(orders), _serve(payments)]
    yield {name: f"127.0.0.1:{s.server_address[1]}" for name, s in zip(("orders", "payments"), servers, strict=True)}
    stop.set()
    worker.join(timeout=2)
    for s in servers:
        s.shutdown()
        s.server_close()


def test_graph_shows_edges_with_figures_and_writes_svg_and_mermaid(mesh: dict[str, str], tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "shared"), str(ROOT)]), "COLUMNS": "160"}
    argv = [sys.executable, "-c", "from portico.cli.main import run; run()", "graph", "--interval", "1"]
    for admin in mesh.values():
        argv += ["--admin", admin]
    argv += ["-o", str(tmp_path / "graph")]
    out = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    rows = {tuple(line.split("│")[1:3]): line for line in out.stdout.splitlines() if line.count("│") > 5}
    edges = {(src.strip(), dst.strip()): row for (src, dst), row in rows.items()}
    assert ("orders", "payments") in edges and ("unknown", "orders") in edges
    cells = [c.strip() for c in edges["orders", "payments"].split("│")]
    rps, errors, p99 = float(cells[3]), float(cells[4].rstrip("%")), float(cells[5])
    assert 20 < rps < 200 and 0 <= errors < 25 and 0 < p99 <= 50
    svg = (tmp_path / "graph.svg").read_text()
    assert svg.startswith("<svg") and svg.count('class="edge"') == 2
    mermaid = (tmp_path / "graph.mmd").read_text()
    assert mermaid.startswith("flowchart LR") and mermaid.count("-->") == 2 and "rps" in mermaid


def test_graph_without_sidecars_says_what_to_do(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "shared"), str(ROOT)])}
    argv = [sys.executable, "-c", "from portico.cli.main import run; run()", "graph"]
    out = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "portico dev up" in out.stderr
    assert out.stdout == ""
