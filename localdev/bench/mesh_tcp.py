"""Mesh TCP benchmark: client -> proxy =mTLS=> proxy -> app for opaque TCP, Portico's sidecars against Envoy.

    python -m localdev.bench.mesh_tcp [--runs 3] [--mb 256] [--seconds 4] [--concurrency 8] [--quick] [--out FILE]

Two figures per proxy pair, in the same run, with equal mTLS (TLS 1.3 both ways, client certificates required,
SPIFFE IDs checked; certificates from the same local Private CA, as in localdev/bench/mesh.py):
- throughput: one stream sends --mb MiB to a sink app (which answers the byte count when the stream half-closes):
  MB/s from the first byte to the answer, so half-close is part of what is measured (median of three streams),
  and the proxies' CPU seconds per GB, which a busy shared machine disturbs less than MB/s;
- connections per second: --concurrency clients each open a connection, send one byte, half-close and read the
  echo and the close, for --seconds.
Envoy runs tcp_proxy with --concurrency 1 (Portico's sidecar is one event loop). A run measures Portico then Envoy;
--runs repeats it and the median of the ratios is reported. On a 2-core machine the client, both proxies and the
app share the cores: the figures are relative, never absolute capacity.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from localdev.bench.envoy_peer import envoy_binary, tcp_inbound_config, tcp_outbound_config
from localdev.bench.mesh import CLIENT, SERVER, TRUST_DOMAIN, Stack, _environment, spiffe
from localdev.bench.tools import cpu_seconds, free_port, report_ratios, rss_mib, wait_http

CHUNK = 1 << 20


def _wait_tcp(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def throughput(port: int, mb: int) -> float:
    """MB/s of one stream of `mb` MiB to the sink, until the sink's count came back (after our half-close)."""
    block = memoryview(os.urandom(CHUNK))
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        start = time.perf_counter()
        for _ in range(mb):
            s.sendall(block)
        s.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := s.recv(64):
            answer += chunk
        elapsed = time.perf_counter() - start
    if int(answer or b"0") != mb * CHUNK:
        raise RuntimeError(f"the sink got {answer!r} bytes, not {mb * CHUNK}")
    return mb * CHUNK / 1e6 / elapsed


async def _connections(port: int, concurrency: int, seconds: float) -> tuple[int, int]:
    deadline = time.perf_counter() + seconds
    done = errors = 0

    async def worker() -> None:
        nonlocal done, errors
        while time.perf_counter() < deadline:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"x")
                writer.write_eof()
                data = await asyncio.wait_for(reader.read(), 10)
                writer.close()
                if data == b"x":
                    done += 1
                else:
                    errors += 1
            except (OSError, TimeoutError):
                errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done, errors


def measure(tput_port: int, conn_port: int, procs: list[Any], args: argparse.Namespace) -> dict[str, Any]:
    throughput(tput_port, max(1, args.mb // 8))  # warm: handshakes, buffers, caches
    cpu0 = sum(cpu_seconds(p.pid) for p in procs)
    # the machine is shared: the median of three streams is steadier than one
    mbps = statistics.median(throughput(tput_port, args.mb) for _ in range(3))
    cpu_tput = (sum(cpu_seconds(p.pid) for p in procs) - cpu0) / 3
    asyncio.run(_connections(conn_port, 2, 0.5))
    start, cpu0 = time.perf_counter(), sum(cpu_seconds(p.pid) for p in procs)
    done, errors = asyncio.run(_connections(conn_port, args.concurrency, args.seconds))
    cps = done / (time.perf_counter() - start)
    cpu_conn = sum(cpu_seconds(p.pid) for p in procs) - cpu0
    return {
        "mb_per_s": mbps,
        "cpu_s_per_gb": cpu_tput / (args.mb * CHUNK / 1e9),
        "connections_per_s": cps,
        "cpu_ms_per_connection": 1000 * cpu_conn / max(done, 1),
        "connections": done,
        "errors": errors,
        "rss_mib": [round(rss_mib(p.pid), 1) for p in procs],
    }


def _apps(stack: Stack) -> tuple[int, int, int]:
    http_app, sink, echo = free_port(), free_port(), free_port()
    stack.spawn("app", [sys.executable, "-m", "localdev.demo.app", "--service", SERVER, "--port", str(http_app)])
    stack.spawn("sink", [sys.executable, "-m", "localdev.demo.tcp_echo", "--port", str(sink), "--sink"])
    stack.spawn("echo", [sys.executable, "-m", "localdev.demo.tcp_echo", "--port", str(echo)])
    wait_http(f"http://127.0.0.1:{http_app}/healthz")
    _wait_tcp(sink)
    _wait_tcp(echo)
    return http_app, sink, echo


def _portico(stack: Stack, apps: tuple[int, int, int], config: Path) -> tuple[int, int, list[Any]]:
    http_app, sink, echo = apps
    local_sink, local_echo = free_port(), free_port()
    adm_b, adm_a = free_port(), free_port()
    common = [sys.executable, "-m", "portico", "sidecar", "--config-file", str(config)]

    def ports(admin: int) -> list[str]:
        return ["--inbound-port", str(free_port()), "--outbound-port", str(free_port()), "--admin-port", str(admin)]

    server = ["--service", SERVER, "--app-port", str(http_app), "--app-ports", f"{sink}=tcp,{echo}=tcp"]
    b = stack.spawn("sidecar-b", [*common, *server, *ports(adm_b)])
    upstreams = f"{local_sink}={SERVER}:{sink},{local_echo}={SERVER}:{echo}"
    client = ["--service", CLIENT, "--app-port", str(free_port()), "--tcp-upstreams", upstreams]
    a = stack.spawn("sidecar-a", [*common, *client, *ports(adm_a)])
    wait_http(f"http://127.0.0.1:{adm_b}/ready", proc=b)
    _wait_tcp(local_echo)
    _until_carried(local_sink, "Portico")  # the client's registry view fills within PORTICO_REGISTRY_REFRESH
    return local_sink, local_echo, [a, b]


def _until_carried(port: int, who: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        with contextlib.suppress(OSError, RuntimeError):
            throughput(port, 1)
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the {who} TCP path never carried a stream")
        time.sleep(0.3)


def _envoy(stack: Stack, apps: tuple[int, int, int], tmp: Path) -> tuple[int, int, list[Any]]:
    from localdev.dev.ca import mint

    _, sink, echo = apps
    binary = envoy_binary()
    certs_a, certs_b = mint(CLIENT, tmp / "envoy-a-certs"), mint(SERVER, tmp / "envoy-b-certs")
    flags = ["--concurrency", "1", "--log-level", "error", "--disable-hot-restart"]
    procs, locals_ = [], []
    for name, app in (("sink", sink), ("echo", echo)):
        inner, outer = free_port(), free_port()
        cfg_b, cfg_a = tmp / f"envoy-b-{name}.json", tmp / f"envoy-a-{name}.json"
        cfg_b.write_text(json.dumps(tcp_inbound_config(inner, app, free_port(), certs_b, TRUST_DOMAIN)))
        cfg_a.write_text(json.dumps(tcp_outbound_config(outer, inner, free_port(), certs_a, spiffe(SERVER))))
        procs += [
            stack.spawn(f"envoy-b-{name}", [binary, "-c", str(cfg_b), *flags]),
            stack.spawn(f"envoy-a-{name}", [binary, "-c", str(cfg_a), *flags]),
        ]
        locals_.append(outer)
        _wait_tcp(inner)
        _wait_tcp(outer)
    _until_carried(locals_[0], "Envoy")
    # one Envoy pair per app port (tcp_proxy has one cluster per listener); measured: the pair in use
    return locals_[0], locals_[1], procs


def one_run(stack: Stack, apps: tuple[int, int, int], tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    (tmp / "empty.yaml").write_text("")
    out: dict[str, Any] = {}
    sink, echo, procs = _portico(stack, apps, tmp / "empty.yaml")
    out["portico"] = measure(sink, echo, procs, args)
    for p in procs:
        p.terminate()
    sink, echo, procs = _envoy(stack, apps, tmp)
    figures = measure(sink, echo, procs, args)
    figures["rss_mib"] = figures["rss_mib"][:2]  # the sink pair's out/in (the echo pair idles meanwhile)
    out["envoy"] = figures
    for p in procs:
        p.terminate()
    return out


def ratios(run: dict[str, Any]) -> dict[str, float]:
    po, en = run["portico"], run["envoy"]
    return {
        "throughput": po["mb_per_s"] / en["mb_per_s"],
        "connections_per_s": po["connections_per_s"] / en["connections_per_s"],
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--mb", type=int, default=256, help="MiB per throughput stream")
    p.add_argument("--seconds", type=float, default=4.0, help="connection-rate measurement per proxy")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--quick", action="store_true", help="tiny sizes: checks the benchmark runs (smoke test)")
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    if args.quick:
        args.runs, args.mb, args.seconds, args.concurrency = 1, 16, 0.5, 4
    envoy_binary()
    tmp = Path(tempfile.mkdtemp(prefix="portico-bench-tcp-"))
    runs: list[dict[str, Any]] = []
    with _environment(tmp) as env:
        stack = Stack(tmp, env)
        try:
            apps = _apps(stack)
            for i in range(args.runs):
                runs.append(one_run(stack, apps, tmp, args))
                print(f"run {i + 1}: " + _line(runs[-1]), flush=True)
        finally:
            stack.stop()
    _report(runs, args, tmp)


def _line(run: dict[str, Any]) -> str:
    po, en, r = run["portico"], run["envoy"], ratios(run)
    return (
        f"portico {po['mb_per_s']:.0f} MB/s {po['connections_per_s']:.0f} conn/s | "
        f"envoy {en['mb_per_s']:.0f} MB/s {en['connections_per_s']:.0f} conn/s | "
        f"ratios throughput {r['throughput']:.2f} conn/s {r['connections_per_s']:.2f}"
    )


def _report(runs: list[dict[str, Any]], args: argparse.Namespace, tmp: Path) -> None:
    header = (
        f"client -> proxy =mTLS=> proxy -> app, opaque TCP; {args.mb} MiB per stream, {args.concurrency} "
        f"connecting clients x {args.seconds:g}s"
    )
    report_ratios("mesh_tcp", runs, ratios, header, {"throughput": "target >= 0.5, moonshot 0.9"}, args.out, tmp)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
