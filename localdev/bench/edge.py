"""Edge benchmark: cold init vs boto3's own, warm per-request cost, route-table scaling 10 -> 10,000 routes, and
what protection costs: schema validation of a 1 KB body against the same route without it, and an IP-rule refusal
(global policy and route rules) against a 404.

Run: python -m localdev.bench.edge [--quick]. Ratios compare against a baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import compileall
import json
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


# The protection measures. Two 1 KB JSON bodies, each POSTed to a route with and without validating it:
# - an order as APIs usually take one: nested objects, an enum, an email format, patterns, three line items;
# - a list-heavy body: 20 line items, each an object whose `sku` is pattern-checked (60 checks more).
_SKU = {"type": "string", "pattern": "^[A-Z0-9-]+$"}
_LINE = {
    "type": "object",
    "required": ["sku", "quantity"],
    "properties": {"sku": _SKU, "quantity": {"type": "integer"}},
}
_SCHEMAS: dict[str, dict[str, Any]] = {
    "order": {
        "type": "object",
        "required": ["customer", "shipping", "items"],
        "additionalProperties": False,
        "properties": {
            "customer": {
                "type": "object",
                "required": ["id", "email"],
                "properties": {
                    "id": {"type": "string", "pattern": "^C-[0-9]+$"},
                    "name": {"type": "string", "maxLength": 128},
                    "email": {"type": "string", "format": "email"},
                },
            },
            "shipping": {
                "type": "object",
                "required": ["street", "city", "postcode", "country"],
                "properties": {
                    "street": {"type": "string", "maxLength": 256},
                    "city": {"type": "string", "maxLength": 128},
                    "postcode": {"type": "string", "pattern": "^[0-9A-Z -]{3,10}$"},
                    "country": {"type": "string", "minLength": 2, "maxLength": 2},
                },
            },
            "priority": {"enum": ["low", "normal", "high"]},
            "note": {"type": "string", "maxLength": 1024},
            "items": {"type": "array", "minItems": 1, "maxItems": 50, "items": _LINE},
        },
    },
    "list": {
        "type": "object",
        "required": ["customer", "items"],
        "additionalProperties": False,
        "properties": {
            "customer": {"type": "string", "maxLength": 64},
            "note": {"type": "string", "maxLength": 512},
            "priority": {"enum": ["low", "normal", "high"]},
            "items": {"type": "array", "maxItems": 50, "items": _LINE},
        },
    },
}
_BODIES = {
    "order": json.dumps(
        {
            "customer": {"id": "C-1042", "name": "Ada Lovelace", "email": "ada@example.com"},
            "shipping": {"street": "12 Analytical Row", "city": "London", "postcode": "EC1A 1BB", "country": "GB"},
            "priority": "high",
            "note": "Leave at the door. " * 36,
            "items": [{"sku": f"SKU-{i}", "quantity": i + 1} for i in range(3)],
        }
    ),
    "list": json.dumps(
        {
            "customer": "acme",
            "note": "n" * 300,
            "priority": "high",
            "items": [{"sku": f"SKU-{i}", "quantity": i + 1} for i in range(20)],
        }
    ),
}
_ROUTES = """
apiVersion: portico/v1
kind: Route
metadata: {{name: orders}}
spec:
  match: {{methods: [POST], path: "/orders/{{orderId}}"}}
  auth: {{none: {{}}}}
  upstream: {{mock: {{status: 201, json: {{created: true}}}}}}
{order}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: lists}}
spec:
  match: {{methods: [POST], path: "/lists/{{listId}}"}}
  auth: {{none: {{}}}}
  upstream: {{mock: {{status: 201, json: {{created: true}}}}}}
{list}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: office}}
spec:
  match: {{methods: [GET], path: "/office/{{name}}"}}
  auth: {{none: {{}}}}
  ipRules: {{allow: [192.0.2.0/24]}}
  upstream: {{mock: {{status: 200}}}}
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


def _event(path: str, method: str = "GET", body: str | None = None, source: str = "10.0.0.1") -> dict[str, Any]:
    headers = {"host": "api.example.com", "user-agent": "bench"}
    if body is not None:
        headers["content-type"] = "application/json"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {"http": {"method": method, "path": path, "sourceIp": source}, "requestId": "r"},
        "isBase64Encoded": False,
    }
    if body is not None:
        event["body"] = body
    return event


def warm(iterations: int, config: Path, telemetry: Any) -> tuple[float, float]:
    from portico.edge.runtime import Edge
    from portico.edge.telemetry import EdgeTelemetry

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


def protection(iterations: int, folder: Path, telemetry: Any) -> dict[str, float]:
    """p50 CPU µs per request of each protection case, with the same telemetry as `warm`.

    The cases are compared with each other, so they are measured interleaved (20 rounds, each case in turn) and
    by the thread's CPU time: on a shared machine, wall time also counts the time other processes held the core,
    which would land on whichever case happened to run then.
    """
    from portico.edge.runtime import Edge

    plain, validated = folder / "plain.yaml", folder / "validated.yaml"
    plain.write_text(_ROUTES.format(order="", list=""))
    rules = {k: f"  validate: {{body: {{schema: {json.dumps(v)}}}}}" for k, v in _SCHEMAS.items()}
    validated.write_text(_ROUTES.format(**rules))
    order = _event("/orders/1", "POST", _BODIES["order"])
    listing = _event("/lists/1", "POST", _BODIES["list"])
    cases = {
        "order": (plain, {}, order, 201),
        "order validated": (validated, {}, order, 201),
        "list": (plain, {}, listing, 201),
        "list validated": (validated, {}, listing, 201),
        "404": (plain, {}, _event("/nowhere/x"), 404),
        "route IP refusal": (plain, {}, _event("/office/x", source="198.51.100.1"), 403),
        # a refused client that never repeats a path: no remembered refusal helps (8,192 paths > the 4,096 kept)
        "route IP refusal, new paths": (
            plain,
            {},
            [_event(f"/office/x{i}", source="198.51.100.1") for i in range(8192)],
            403,
        ),
        "global IP refusal": (
            plain,
            {"PORTICO_IP_DENY": "198.51.100.0/24"},
            _event("/office/x", source="198.51.100.1"),
            403,
        ),
    }
    edges = {}
    for name, (config, env, event, status) in cases.items():
        edge = Edge.from_env({"PORTICO_CONFIG_FILE": str(config), **env}, telemetry=telemetry)
        events = event if isinstance(event, list) else [event]
        for i in range(min(iterations, 1000)):
            answer = edge.handle(events[i % len(events)])
        if answer["statusCode"] != status:
            raise RuntimeError(f"{name}: expected {status}, got {answer['statusCode']}: {answer.get('body')}")
        edges[name] = (edge, events)
    samples: dict[str, list[int]] = {name: [] for name in cases}
    rounds = 20
    sent = dict.fromkeys(cases, min(iterations, 1000))  # new-path cases go on past the warm-up paths
    for _ in range(rounds):
        for name, (edge, events) in edges.items():
            for _ in range(max(1, iterations // rounds)):
                event = events[sent[name] % len(events)]
                sent[name] += 1
                t0 = time.thread_time_ns()
                edge.handle(event)
                samples[name].append(time.thread_time_ns() - t0)
    for edge, _ in edges.values():
        edge.close()
    return {name: statistics.median(times) / 1000 for name, times in samples.items()}


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
        from localdev.bench.tools import quiet_telemetry

        with quiet_telemetry() as telemetry:
            p50, p99 = warm(iterations, config, telemetry)
            guarded = protection(iterations, Path(tmp), telemetry)
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
        (f"POST {len(_BODIES['order'])} B order, no validation, CPU p50", f"{guarded['order']:.1f} us", "1.00x"),
        (
            f"POST {len(_BODIES['order'])} B order, schema-validated, CPU p50",
            f"{guarded['order validated']:.1f} us",
            f"{guarded['order validated'] / guarded['order']:.2f}x  (target <= 1.3x)",
        ),
        (f"POST {len(_BODIES['list'])} B list of 20, no validation, CPU p50", f"{guarded['list']:.1f} us", "1.00x"),
        (
            f"POST {len(_BODIES['list'])} B list of 20, validated, CPU p50",
            f"{guarded['list validated']:.1f} us",
            f"{guarded['list validated'] / guarded['list']:.2f}x",
        ),
        ("404 (no route), CPU p50", f"{guarded['404']:.1f} us", "1.00x"),
        (
            "IP refusal, global policy, CPU p50",
            f"{guarded['global IP refusal']:.1f} us",
            f"{guarded['global IP refusal'] / guarded['404']:.2f}x  (target < 1x)",
        ),
        (
            "IP refusal, route ipRules, CPU p50",
            f"{guarded['route IP refusal']:.1f} us",
            f"{guarded['route IP refusal'] / guarded['404']:.2f}x  (target < 1x)",
        ),
        (
            "IP refusal, route ipRules, a new path each time, CPU p50",
            f"{guarded['route IP refusal, new paths']:.1f} us",
            f"{guarded['route IP refusal, new paths'] / guarded['404']:.2f}x",
        ),
        ("route match, 10 routes (median)", f"{small:.2f} us", "1.00x"),
        ("route match, 10,000 routes (median)", f"{large:.2f} us", f"{large / small:.2f}x  (target <= 2x)"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'value':>12}  ratio")
    for name, value, ratio in rows:
        print(f"{name.ljust(width)}  {value:>12}  {ratio}")


if __name__ == "__main__":
    main()
