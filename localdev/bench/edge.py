"""Edge benchmark: cold init vs boto3's own, warm per-request cost, and route-table scaling 10 -> 10,000 routes.

Run: python -m localdev.bench.edge [--quick]. Ratios compare against a baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

_BASELINE = "import boto3; boto3.client('dynamodb', region_name='us-east-1')"
_EDGE = "from functions.edge import app"  # import + settings + config snapshot load + pipeline build
_EDGE_WITH_CLIENT = _BASELINE + "; " + _EDGE  # what a DynamoDB-backed cold start pays in total

_DEMO_ROUTES = """
apiVersion: portico/v1
kind: Route
metadata: {name: hello}
spec:
  match: {methods: [GET], path: "/hello/{name}"}
  auth: {none: {}}
  upstream: {mock: {status: 200, json: {hello: world}}}
"""


def _timed_subprocess(code: str, env: dict[str, str]) -> float:
    script = f"import time; t0 = time.perf_counter(); {code}; print(time.perf_counter() - t0)"
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def cold_init(reps: int, config: Path) -> dict[str, float]:
    # Like for like: boto3 in site-packages has bytecode from pip, and the deployed layer ships bytecode too, so
    # Portico's own modules are compiled first; otherwise every sample would pay for compiling them from source
    # (PYTHONDONTWRITEBYTECODE in a shell is enough to make that happen on every run).
    for folder in ("shared", "functions"):
        compileall.compile_dir(ROOT / folder, quiet=1)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "shared"), str(ROOT)])}
    env.update({"PORTICO_CONFIG_FILE": str(config), "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"})
    samples: dict[str, list[float]] = {"baseline": [], "edge": [], "edge+client": []}
    for _ in range(reps):  # interleaved, so drift on a shared machine hits all three alike
        samples["baseline"].append(_timed_subprocess(_BASELINE, env))
        samples["edge"].append(_timed_subprocess(_EDGE, env))
        samples["edge+client"].append(_timed_subprocess(_EDGE_WITH_CLIENT, env))
    return {k: statistics.median(v) for k, v in samples.items()}


def _event(path: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "api.example.com", "user-agent": "bench"},
        "requestContext": {"http": {"method": "GET", "path": path, "sourceIp": "10.0.0.1"}, "requestId": "r"},
        "isBase64Encoded": False,
    }


def warm(iterations: int, config: Path) -> tuple[float, float]:
    from localdev.bench.tools import quiet_telemetry
    from portico.edge.runtime import Edge
    from portico.edge.telemetry import EdgeTelemetry

    with quiet_telemetry() as telemetry:
        if os.environ.get("PORTICO_ACCESS_LOG") == "false":
            telemetry = EdgeTelemetry()
        return _warm(Edge.from_env({"PORTICO_CONFIG_FILE": str(config)}, telemetry=telemetry), iterations)


def _warm(edge: Any, iterations: int) -> tuple[float, float]:
    event = _event("/hello/world")
    for _ in range(min(iterations, 1000)):
        edge.handle(event)
    times = []
    for _ in range(iterations):
        t0 = time.perf_counter_ns()
        edge.handle(event)
        times.append(time.perf_counter_ns() - t0)
    edge.close()
    times.sort()
    return times[len(times) // 2] / 1000, times[int(len(times) * 0.99)] / 1000


def route_scaling(count: int, lookups: int) -> float:
    """Median microseconds per match among `count` routes (templates, prefixes and hosts mixed)."""
    from portico.core.config.route import RouteMatch
    from portico.core.routing.table import RouteTable

    routes = []
    for i in range(count):
        if i % 3 == 0:
            match = RouteMatch(path=f"/svc{i}/items/{{id}}", methods=["GET"])
        elif i % 3 == 1:
            match = RouteMatch(path_prefix=f"/svc{i}/files")
        else:
            match = RouteMatch(path=f"/svc{i}/users/{{uid}}/orders/{{oid}}", host=f"h{i}.example.com")
        routes.append((f"r{i}", match, 0, i))
    table = RouteTable.build(routes)
    probes = [(f"/svc{i}/items/42", f"x{i}.example.com") for i in range(0, count, 3)]
    times = []
    for n in range(lookups):
        path, host = probes[n % len(probes)]
        t0 = time.perf_counter_ns()
        table.match("GET", host, path, {}, {})
        times.append(time.perf_counter_ns() - t0)
    return statistics.median(times) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny iteration counts (smoke test)")
    args = parser.parse_args()
    reps, iterations, lookups = (1, 200, 200) if args.quick else (7, 20000, 50000)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "edge.yaml"
        config.write_text(_DEMO_ROUTES)
        cold = cold_init(reps, config)
        p50, p99 = warm(iterations, config)
    small, large = route_scaling(10, lookups), route_scaling(10_000, lookups)
    rows = [
        ("cold init: import boto3 + dynamodb client (baseline)", f"{cold['baseline'] * 1000:.1f} ms", "1.00x"),
        (
            "cold init: edge (import + snapshot + pipeline)",
            f"{cold['edge'] * 1000:.1f} ms",
            f"{cold['edge'] / cold['baseline']:.2f}x  (target <= 1.3x)",
        ),
        (
            "cold init: edge + dynamodb client",
            f"{cold['edge+client'] * 1000:.1f} ms",
            f"{cold['edge+client'] / cold['baseline']:.2f}x",
        ),
        ("warm request p50 (route match + mock)", f"{p50:.1f} us", "target <= 300 us"),
        ("warm request p99", f"{p99:.1f} us", ""),
        ("route match, 10 routes (median)", f"{small:.2f} us", "1.00x"),
        ("route match, 10,000 routes (median)", f"{large:.2f} us", f"{large / small:.2f}x  (target <= 2x)"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'value':>12}  ratio")
    for name, value, ratio in rows:
        print(f"{name.ljust(width)}  {value:>12}  {ratio}")


if __name__ == "__main__":
    main()
