"""Mesh gRPC benchmark: unary calls client -> proxy =mTLS (h2)=> proxy -> grpcio app, Portico's sidecars vs Envoy.

    python -m localdev.bench.mesh_grpc [--runs 3] [--seconds 5] [--connections 4] [--streams 16] [--quick] [--out F]

h2load (Debian's nghttp2-client; `make system-deps` installs it) drives `portico.demo.v1.Library/Echo` with one
framed empty message per call, over h2c with prior knowledge, `--connections` connections x `--streams`
concurrent streams. Every hop is HTTP/2: h2c from the client, h2 over mTLS between the proxies (TLS 1.3, client
certificates required, SPIFFE IDs checked, ALPN h2, certificates from the same local Private CA as
localdev/bench/mesh.py), h2c to the app. Envoy runs with --concurrency 1 (Portico's sidecar is one event loop).

Figures per run: calls/s through each pair, and the proxies' CPU microseconds per call (steadier on a shared
machine than calls/s). `direct` (h2load straight to the app) shows the app's own ceiling: when the pair's calls/s
comes close to it, the app, not the proxies, is the limit. A run measures Portico then Envoy; --runs repeats it and
the median of the ratios is reported. On a 2-core machine h2load, both proxies and the app share the cores: the
figures are relative, never absolute capacity.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from localdev.bench.envoy_peer import envoy_binary, grpc_inbound_config, grpc_outbound_config
from localdev.bench.mesh import CLIENT, SERVER, TRUST_DOMAIN, Stack, _environment, spiffe
from localdev.bench.tools import cpu_seconds, free_port, report_ratios, rss_mib, wait_http

PATH = "/portico.demo.v1.Library/Echo"
EMPTY_MESSAGE = b"\x00\x00\x00\x00\x00"  # gRPC framing: not compressed, length 0


def h2load(port: int, data: Path, args: argparse.Namespace, seconds: float) -> dict[str, float]:
    """Calls/s and failures of one h2load run against 127.0.0.1:`port` (the :authority names the service)."""
    binary = shutil.which("h2load")
    if binary is None:
        raise SystemExit("h2load not found: `make system-deps` installs Debian's nghttp2-client")
    argv = [
        binary,
        f"http://127.0.0.1:{port}{PATH}",
        "-c",
        str(args.connections),
        "-m",
        str(args.streams),
        "-D",
        f"{round(seconds * 1000)}ms",
        "-d",
        str(data),
        "-H",
        f":authority: {SERVER}",
        "-H",
        "content-type: application/grpc",
        "-H",
        "te: trailers",
    ]
    ran = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    out = ran.stdout + ran.stderr
    rps = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", out)
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored", out)
    if rps is None or done is None:
        raise RuntimeError(f"h2load printed no figures:\n{out}")
    return {
        "rps": float(rps.group(1)),
        "calls": int(done.group(2)),
        "failed": int(done.group(3)) + int(done.group(4)),
    }


def check_call(port: int) -> None:
    """One real grpcio call through the path: the answer must be a gRPC OK, not just HTTP 200."""
    import grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.default_authority", SERVER)]) as ch:
        call = ch.unary_unary(PATH, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        call(b"", timeout=10)


def _wait_call(port: int, proc: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            check_call(port)
            return
        except Exception:
            if time.monotonic() > deadline or (proc is not None and proc.poll() is not None):
                raise
            time.sleep(0.3)


def measure(port: int, procs: list[Any], data: Path, args: argparse.Namespace) -> dict[str, Any]:
    h2load(port, data, args, args.warm)  # open pools, warm caches
    cpu0 = sum(cpu_seconds(p.pid) for p in procs)
    load = h2load(port, data, args, args.seconds)
    cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu0
    check_call(port)  # still answering real gRPC after the load
    return {
        **load,
        "cpu_us_per_call": 1e6 * cpu / max(load["calls"], 1) if procs else 0.0,
        "rss_mib": [round(rss_mib(p.pid), 1) for p in procs],
    }


def _portico(stack: Stack, app: int, config: Path) -> tuple[int, list[Any]]:
    ports = {n: free_port() for n in ("a_out", "a_in", "a_adm", "b_out", "b_in", "b_adm")}
    common = [sys.executable, "-m", "portico", "sidecar", "--config-file", str(config)]

    def sidecar(side: str, flags: list[str]) -> Any:
        own = ["--inbound-port", str(ports[f"{side}_in"]), "--outbound-port", str(ports[f"{side}_out"])]
        return stack.spawn(f"sidecar-{side}", [*common, *flags, *own, "--admin-port", str(ports[f"{side}_adm"])])

    b = sidecar("b", ["--service", SERVER, "--app-port", str(app), "--app-protocol", "grpc"])
    a = sidecar("a", ["--service", CLIENT, "--app-port", str(free_port())])  # the client side has no app
    wait_http(f"http://127.0.0.1:{ports['b_adm']}/ready", proc=b)
    _wait_call(ports["a_out"], a)  # the client's registry view fills within PORTICO_REGISTRY_REFRESH
    return ports["a_out"], [a, b]


def _envoy(stack: Stack, app: int, tmp: Path) -> tuple[int, list[Any]]:
    from localdev.dev.ca import mint

    binary = envoy_binary()
    ports = {n: free_port() for n in ("a", "b", "a_adm", "b_adm")}
    certs_a, certs_b = mint(CLIENT, tmp / "envoy-a-certs"), mint(SERVER, tmp / "envoy-b-certs")
    cfg_b, cfg_a = tmp / "envoy-grpc-b.json", tmp / "envoy-grpc-a.json"
    cfg_b.write_text(json.dumps(grpc_inbound_config(ports["b"], app, ports["b_adm"], certs_b, TRUST_DOMAIN)))
    cfg_a.write_text(json.dumps(grpc_outbound_config(ports["a"], ports["b"], ports["a_adm"], certs_a, spiffe(SERVER))))
    flags = ["--concurrency", "1", "--log-level", "error", "--disable-hot-restart"]
    eb = stack.spawn("envoy-b", [binary, "-c", str(cfg_b), *flags])
    ea = stack.spawn("envoy-a", [binary, "-c", str(cfg_a), *flags])
    _wait_call(ports["a"], ea)
    return ports["a"], [ea, eb]


def one_run(stack: Stack, app: int, tmp: Path, data: Path, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"direct": measure(app, [], data, args)}
    port, procs = _portico(stack, app, tmp / "empty.yaml")
    out["portico"] = measure(port, procs, data, args)
    for p in procs:
        p.terminate()
    port, procs = _envoy(stack, app, tmp)
    out["envoy"] = measure(port, procs, data, args)
    for p in procs:
        p.terminate()
    return out


def ratios(run: dict[str, Any]) -> dict[str, float]:
    po, en = run["portico"], run["envoy"]
    return {
        "calls/s": po["rps"] / en["rps"],
        "CPU per call (lower is better)": po["cpu_us_per_call"] / max(en["cpu_us_per_call"], 1e-9),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--seconds", type=float, default=5.0, help="measured load per proxy pair")
    p.add_argument("--connections", type=int, default=4)
    p.add_argument("--streams", type=int, default=16, help="concurrent streams per connection")
    p.add_argument("--quick", action="store_true", help="tiny durations: checks the benchmark runs (smoke test)")
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    args.warm = 1.0
    if args.quick:
        args.runs, args.seconds, args.warm, args.connections, args.streams = 1, 1.0, 0.5, 2, 4
    envoy_binary()
    tmp = Path(tempfile.mkdtemp(prefix="portico-bench-grpc-"))
    data = tmp / "echo.grpc"
    data.write_bytes(EMPTY_MESSAGE)
    (tmp / "empty.yaml").write_text("")
    runs: list[dict[str, Any]] = []
    with _environment(tmp) as env:
        stack = Stack(tmp, env)
        try:
            app = free_port()
            stack.spawn("app", [sys.executable, "-m", "localdev.grpc.server", "--port", str(app)])
            _wait_call(app, None)
            for i in range(args.runs):
                runs.append(one_run(stack, app, tmp, data, args))
                print(f"run {i + 1}: " + _line(runs[-1]), flush=True)
        finally:
            stack.stop()
    _report(runs, args, tmp)


def _line(run: dict[str, Any]) -> str:
    d, po, en, r = run["direct"], run["portico"], run["envoy"], ratios(run)
    return (
        f"direct {d['rps']:.0f}/s | portico {po['rps']:.0f}/s {po['cpu_us_per_call']:.0f} us CPU | "
        f"envoy {en['rps']:.0f}/s {en['cpu_us_per_call']:.0f} us CPU | ratio calls/s {r['calls/s']:.2f} | "
        f"failed {po['failed']}/{en['failed']}"
    )


def _report(runs: list[dict[str, Any]], args: argparse.Namespace, tmp: Path) -> None:
    header = (
        f"h2load -> proxy =mTLS h2=> proxy -> grpcio app, unary Echo; {args.connections} connections x "
        f"{args.streams} streams x {args.seconds:g}s"
    )
    report_ratios("mesh_grpc", runs, ratios, header, {"calls/s": "target >= 0.5, moonshot 0.8"}, args.out, tmp)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
