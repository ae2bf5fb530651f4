"""mTLS benchmark: handshake cost, and per-request sidecar CPU with mTLS vs plaintext on pooled connections.

Run: python -m localdev.bench.mtls [--requests N]. It starts the embedded local AWS (registry table, root CA) and,
per mode, a demo payments app with two sidecars (orders -> payments); the only difference between the modes is
the inbound/outbound mTLS. CPU is read from /proc for the two sidecar processes, so the ratio is per request.
Plaintext sidecars exist only here (the product's CLI refuses to start without a certificate source); they are
built by the same code as `portico sidecar` (portico.mesh.root.build), access log and metrics included.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_TICK = os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


def _plain_sidecar(service: str, app_port: int, inbound: int, outbound: int, admin: int, config: str) -> None:
    """A sidecar exactly as `portico sidecar` builds it (stores, access log, metrics), minus the identity
    (benchmark baseline only)."""
    from portico.mesh.main import serve
    from portico.mesh.root import build
    from portico.mesh.settings import resolve

    settings = resolve(
        service=service, app_port=app_port, inbound_port=inbound, outbound_port=outbound, admin_port=admin,
        instance_id=f"{service}-{inbound}", config_file=config,
    )  # fmt: skip
    serve(build(settings, identity=None))


class Stack:
    """payments app + payments sidecar + orders sidecar, in one mode."""

    def __init__(self, env: dict[str, str], tmp: Path, tls: bool) -> None:
        self.env, self.tmp, self.tls = env, tmp, tls
        self.procs: list[subprocess.Popen[bytes]] = []
        self.ports = {k: _free_port() for k in ("app", "p_in", "p_out", "p_admin", "o_in", "o_out", "o_admin")}

    def _sidecar(self, service: str, app: int, inb: int, out: int, adm: int) -> subprocess.Popen[bytes]:
        config = str(self.tmp / "mesh.yaml")
        if self.tls:
            argv = [sys.executable, "-m", "portico", "sidecar", "--service", service, "--app-port", str(app),
                    "--inbound-port", str(inb), "--outbound-port", str(out), "--admin-port", str(adm),
                    "--instance-id", f"{service}-{inb}", "--config-file", config]  # fmt: skip
        else:
            call = f"_plain_sidecar({service!r}, {app}, {inb}, {out}, {adm}, {config!r})"
            argv = [sys.executable, "-c", f"from localdev.bench.mtls import _plain_sidecar; {call}"]
        return subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def __enter__(self) -> Stack:
        p = self.ports
        app = [sys.executable, "-m", "localdev.demo.app", "--service", "payments", "--port", str(p["app"])]
        self.procs.append(subprocess.Popen(app, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL))
        self.payments = self._sidecar("payments", p["app"], p["p_in"], p["p_out"], p["p_admin"])
        self.orders = self._sidecar("orders", _free_port(), p["o_in"], p["o_out"], p["o_admin"])
        self.procs += [self.payments, self.orders]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                req = urllib.request.Request(f"http://127.0.0.1:{p['o_out']}/charge", headers={"host": "payments"})
                with urllib.request.urlopen(req, timeout=2) as r:
                    if r.status == 200:
                        return self
            time.sleep(0.3)
        raise RuntimeError("the benchmark mesh did not come up")

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()

    def sidecar_cpu(self) -> float:
        return _cpu(self.payments.pid) + _cpu(self.orders.pid)


async def _pooled_load(port: int, requests: int, concurrency: int) -> float:
    head = b"GET /charge HTTP/1.1\r\nhost: payments\r\ncontent-length: 0\r\n\r\n"

    async def worker(n: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(n):
            writer.write(head)
            status = await reader.readuntil(b"\r\n\r\n")
            length = int(status.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            if not status.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(status[:40])
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker(requests // concurrency) for _ in range(concurrency)))
    return time.perf_counter() - start


def _per_request(stack: Stack, requests: int, concurrency: int) -> tuple[float, float]:
    asyncio.run(_pooled_load(stack.ports["o_out"], 200, concurrency))  # warm: pools open, handshakes done
    cpu0 = stack.sidecar_cpu()
    wall = asyncio.run(_pooled_load(stack.ports["o_out"], requests, concurrency))
    return (stack.sidecar_cpu() - cpu0) / requests, requests / wall


def _handshakes(stack: Stack, ctx: ssl.SSLContext | None, count: int) -> tuple[float, float]:
    """New connection + one request each, straight to the payments sidecar: (client wall ms, server CPU ms)."""
    port = stack.ports["p_in"]
    request = b"GET /charge HTTP/1.1\r\nhost: payments\r\nconnection: close\r\n\r\n"
    cpu0, start = _cpu(stack.payments.pid), time.perf_counter()
    for _ in range(count):
        with socket.create_connection(("127.0.0.1", port)) as raw:
            sock = ctx.wrap_socket(raw) if ctx else raw
            with sock:
                sock.sendall(request)
                while sock.recv(65536):
                    pass
    wall = (time.perf_counter() - start) / count
    return wall * 1000, (_cpu(stack.payments.pid) - cpu0) / count * 1000


@contextlib.contextmanager
def _environment() -> Iterator[tuple[dict[str, str], Path, str]]:
    from localdev import aws
    from localdev.dev.ca import ensure_root_ca
    from localdev.tables import create_tables

    with tempfile.TemporaryDirectory(prefix="portico-bench-mtls-") as folder, aws.serving() as url:
        from portico.adapters.aws import client

        suffix = f"{random.getrandbits(32):08x}"
        names = {r: f"bench-{r}-{suffix}" for r in ("config", "quota", "registry")}
        create_tables(client("dynamodb"), names)
        arn = ensure_root_ca(client("acm-pca"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")}
        env.update({f"PORTICO_{r.upper()}_TABLE": n for r, n in names.items()})
        env.update(AWS_ENDPOINT_URL=url, PORTICO_PCA_ARN=arn, PORTICO_LOG_LEVEL="WARNING")
        env.update(PORTICO_REGISTRY_REFRESH="0.5", PORTICO_HEARTBEAT_INTERVAL="1")
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "shared"), str(ROOT), env.get("PYTHONPATH", "")])
        tmp = Path(folder)
        (tmp / "mesh.yaml").write_text("")
        yield env, tmp, arn


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m localdev.bench.mtls", description=__doc__)
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--handshakes", type=int, default=200)
    args = parser.parse_args(argv)

    from localdev.dev.ca import mint

    with _environment() as (env, tmp, _arn):
        os.environ.update({k: v for k, v in env.items() if k.startswith(("AWS_", "PORTICO_PCA"))})
        certs = mint("bench", tmp / "client")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.load_verify_locations(certs / "ca.pem")
        ctx.load_cert_chain(certs / "cert.pem", certs / "key.pem")
        results: dict[str, tuple[float, float, float, float]] = {}
        for mode, tls in (("plaintext", False), ("mtls", True)):
            with Stack(env, tmp, tls) as stack:
                cpu, rps = _per_request(stack, args.requests, args.concurrency)
                hs_wall, hs_cpu = _handshakes(stack, ctx if tls else None, args.handshakes)
                results[mode] = (cpu, rps, hs_wall, hs_cpu)

    plain, mtls = results["plaintext"], results["mtls"]
    print("\nmTLS benchmark (orders sidecar -> payments sidecar -> app; CPU of both sidecars)")
    print(f"{'':28}{'plaintext':>12}{'mTLS':>12}{'ratio':>8}")
    print(f"{'CPU per request (us)':28}{plain[0] * 1e6:12.0f}{mtls[0] * 1e6:12.0f}{mtls[0] / plain[0]:8.2f}")
    print(f"{'throughput (req/s)':28}{plain[1]:12.0f}{mtls[1]:12.0f}{mtls[1] / plain[1]:8.2f}")
    print(f"{'new connection + 1 req (ms)':28}{plain[2]:12.2f}{mtls[2]:12.2f}{mtls[2] / plain[2]:8.2f}")
    print(f"{'server CPU per new conn (ms)':28}{plain[3]:12.2f}{mtls[3]:12.2f}{mtls[3] / max(plain[3], 1e-9):8.2f}")
    print(f"handshake cost ~ {mtls[2] - plain[2]:.2f} ms wall, {mtls[3] - plain[3]:.2f} ms server CPU per handshake")
    verdict = "meets" if mtls[0] / plain[0] <= 1.3 else "MISSES"
    print(f"pooled per-request CPU ratio {mtls[0] / plain[0]:.2f} {verdict} the 1.3x target")


if __name__ == "__main__":
    main()
