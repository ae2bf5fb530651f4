"""Portal benchmark: what the developer portal costs at the edge.

- the docs page and openapi.json are built once per config version, so a warm request for either is compared with
  a 404 (the cheapest answer the edge gives) through the same edge: the ratio should be below 1;
- cold init with a Portal document in the config against the same config without one: the portal's sign-in code
  is imported on the first /_portico/portal/ request only, so the ratio should be about 1, and the benchmark
  lists any portal module a cold start imported.

Run: python -m localdev.bench.portal [--quick].
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

from localdev.bench.edge import _DEMO_ROUTES, _event
from localdev.bench.tools import print_rows

ROOT = Path(__file__).resolve().parents[2]
_PORTAL = """
---
apiVersion: portico/v1
kind: Issuer
metadata: {name: idp}
spec:
  issuer: "https://login.example.com/"
  jwksUri: "https://login.example.com/jwks"
  authorizationEndpoint: "https://login.example.com/authorize"
  tokenEndpoint: "https://login.example.com/token"
  audiences: [api://demo]
---
apiVersion: portico/v1
kind: Portal
metadata: {name: portal}
spec:
  signIn: {issuer: idp, clientId: portal, redirectUri: "https://api.example.com/_portico/portal/callback"}
"""
_COLD = (
    "from functions.edge import app; import sys; "
    "print('imported=' + ','.join(sorted(m for m in sys.modules if m.startswith('portico.edge.portal.') "
    "or m.startswith('portico.core.portal.accounts'))))"
)


def _cold(config: Path) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "shared"), str(ROOT)])}
    env.update({"PORTICO_CONFIG_FILE": str(config), "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"})
    script = f"import time; t0 = time.perf_counter(); {_COLD}; print(time.perf_counter() - t0)"
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    lines = out.stdout.strip().splitlines()
    return float(lines[-1]), lines[-2].removeprefix("imported=")


def cold_init(reps: int, plain: Path, with_portal: Path) -> tuple[float, float, str]:
    for folder in ("shared", "functions"):
        compileall.compile_dir(ROOT / folder, quiet=1)
    samples: dict[str, list[float]] = {"plain": [], "portal": []}
    imported = ""
    for _ in range(reps):  # interleaved, so drift on a shared machine hits both alike
        samples["plain"].append(_cold(plain)[0])
        seconds, imported = _cold(with_portal)
        samples["portal"].append(seconds)
    return statistics.median(samples["plain"]), statistics.median(samples["portal"]), imported


def warm(iterations: int, config: Path) -> dict[str, float]:
    from localdev.bench.tools import quiet_telemetry
    from portico.edge.runtime import Edge

    with quiet_telemetry() as telemetry:
        edge = Edge.from_env({"PORTICO_CONFIG_FILE": str(config)}, telemetry=telemetry)
        paths = {"404": "/no/such/route", "docs": "/_portico/docs", "openapi": "/_portico/openapi.json"}
        events: dict[str, Any] = {name: _event(path) for name, path in paths.items()}
        samples: dict[str, list[int]] = {name: [] for name in paths}
        for name, event in events.items():
            assert edge.handle(event)["statusCode"] == (404 if name == "404" else 200)
        for _ in range(iterations):  # interleaved: each kind sees the same machine
            for name, event in events.items():
                t0 = time.perf_counter_ns()
                edge.handle(event)
                samples[name].append(time.perf_counter_ns() - t0)
        edge.close()
    return {name: statistics.median(times) / 1000 for name, times in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny iteration counts (smoke test)")
    args = parser.parse_args()
    reps, iterations = (1, 200) if args.quick else (7, 5000)
    with tempfile.TemporaryDirectory() as tmp:
        plain, with_portal = Path(tmp) / "plain.yaml", Path(tmp) / "portal.yaml"
        plain.write_text(_DEMO_ROUTES)
        with_portal.write_text(_DEMO_ROUTES + _PORTAL)
        cold_plain, cold_portal, imported = cold_init(reps, plain, with_portal)
        costs = warm(iterations, with_portal)
    rows = [
        ("warm 404 (median)", f"{costs['404']:.1f} us", "1.00x"),
        (
            "warm GET /_portico/docs (median)",
            f"{costs['docs']:.1f} us",
            f"{costs['docs'] / costs['404']:.2f}x of a 404",
        ),
        (
            "warm GET /_portico/openapi.json (median)",
            f"{costs['openapi']:.1f} us",
            f"{costs['openapi'] / costs['404']:.2f}x of a 404",
        ),
        ("cold init: config without a Portal", f"{cold_plain * 1000:.1f} ms", "1.00x"),
        ("cold init: config with a Portal", f"{cold_portal * 1000:.1f} ms", f"{cold_portal / cold_plain:.2f}x"),
        ("portal sign-in modules at cold start", "", f"imported: {imported or 'none'}"),
    ]
    print_rows(rows)


if __name__ == "__main__":
    main()
