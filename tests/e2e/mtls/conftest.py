"""Real sidecars over mTLS with certificates from the local AWS Private CA; free ports; every process cleaned up."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
TD = "cluster.local"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(url: str, *, method: str = "GET", host: str | None = None, timeout: float = 5.0) -> tuple[int, bytes]:
    req = urllib.request.Request(url, method=method, data=b"{}" if method == "POST" else None)
    if host:
        req.add_header("Host", host)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        with e:  # closed: an HTTPError holds the connection's socket
            return e.code, e.read()


@dataclass
class Sidecar:
    service: str
    inbound: int
    outbound: int
    admin: int
    app_port: int
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def dump(self) -> dict[str, Any]:
        return json.loads(http(f"http://127.0.0.1:{self.admin}/config_dump")[1])

    def serial(self) -> int:
        return int(self.dump()["identity"]["serial"], 16)

    def call(self, path: str, *, method: str = "GET", to: str = "payments") -> tuple[int, bytes]:
        """A request from this sidecar's app: through its outbound listener to service `to`."""
        return http(f"http://127.0.0.1:{self.outbound}{path}", method=method, host=to)


@dataclass
class MtlsMesh:
    env: dict[str, str]
    tmp: Path
    pca_arn: str
    sidecars: list[Sidecar] = field(default_factory=list)

    def config(self, text: str) -> None:
        tmp = self.tmp / "mesh.yaml.tmp"
        tmp.write_text(text)
        tmp.replace(self.tmp / "mesh.yaml")  # atomic: a sidecar never reads half a file

    def start(self, service: str, *, app: bool = True, env: dict[str, str] | None = None) -> Sidecar:
        car = Sidecar(service, free_port(), free_port(), free_port(), free_port())
        log = self.tmp / f"{service}-{car.inbound}.log"
        with log.open("ab") as out:  # the children keep their own descriptors
            if app:
                argv = [sys.executable, "-m", "localdev.demo.app", "--service", service, "--port", str(car.app_port)]
                car.procs.append(subprocess.Popen(argv, cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT))
            argv = [sys.executable, "-m", "portico", "sidecar", "--service", service, "--app-port", str(car.app_port)]
            argv += ["--inbound-port", str(car.inbound), "--outbound-port", str(car.outbound)]
            argv += ["--admin-port", str(car.admin), "--instance-id", f"{service}-{car.inbound}"]
            argv += ["--config-file", str(self.tmp / "mesh.yaml")]
            run_env = {**self.env, **(env or {})}
            car.procs.append(subprocess.Popen(argv, cwd=REPO, env=run_env, stdout=out, stderr=subprocess.STDOUT))
        self.sidecars.append(car)
        self._wait(car, str(log))
        return car

    def _wait(self, car: Sidecar, log: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if car.procs[-1].poll() is not None:
                raise AssertionError(f"sidecar {car.service} exited:\n{Path(log).read_text()[-3000:]}")
            with contextlib.suppress(OSError):
                if http(f"http://127.0.0.1:{car.admin}/live", timeout=1)[0] == 200:
                    return
            time.sleep(0.1)
        raise AssertionError(f"sidecar {car.service} not live:\n{Path(log).read_text()[-3000:]}")

    def wait_routable(self, caller: Sidecar, to: str, path: str = "/", timeout: float = 20.0) -> None:
        """Until the caller's registry view has `to` (heartbeats and refreshes take a moment)."""
        deadline = time.monotonic() + timeout
        status = 0
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                status = caller.call(path, to=to)[0]
                if status not in (502, 503, 404):
                    return
            time.sleep(0.2)
        raise AssertionError(f"{caller.service} never reached {to} (last status {status})")

    def stop(self) -> None:
        for car in self.sidecars:
            for proc in car.procs:
                if proc.poll() is None:
                    proc.terminate()
        for car in self.sidecars:
            for proc in car.procs:
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)


@pytest.fixture
def mesh(tables: dict[str, str], pca_arn: str, tmp_path: Path) -> Iterator[MtlsMesh]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")}
    env.update({f"PORTICO_{r.upper()}_TABLE": n for r, n in tables.items()})
    env.update(
        PORTICO_PCA_ARN=pca_arn,
        PORTICO_HEARTBEAT_INTERVAL="0.5",
        PORTICO_REGISTRY_REFRESH="0.3",
        PORTICO_CONFIG_REFRESH="0.3",
        PORTICO_DRAIN_TIMEOUT="1",
        PORTICO_LOG_LEVEL="WARNING",
        PYTHONPATH=os.pathsep.join([str(REPO / "shared"), str(REPO), env.get("PYTHONPATH", "")]),
    )
    m = MtlsMesh(env, tmp_path, pca_arn)
    m.config("")
    try:
        yield m
    finally:
        m.stop()


def client_context(cert_pem: bytes, key_pem: bytes, bundle: bytes, folder: Path) -> ssl.SSLContext:
    """A plain Python TLS client presenting the given certificate (files, since ssl loads from paths)."""
    from localdev.pki import write
    from portico.core.ports import IssuedCert

    cert, key, _ = write(IssuedCert(cert_pem, key_pem, 0, 0, 0, ""), bundle, folder)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(cadata=bundle.decode())
    ctx.load_cert_chain(cert, key)
    return ctx


def raw_request(port: int, ctx: ssl.SSLContext | None, request: bytes = b"") -> bytes:
    """Send one HTTP request over TLS (or plaintext with ctx=None); what came back, b"" if the peer hung up."""
    request = request or b"POST /charge HTTP/1.1\r\nhost: payments\r\ncontent-length: 0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        try:
            sock: socket.socket = ctx.wrap_socket(raw) if ctx else raw
        except (ssl.SSLError, ConnectionResetError):
            return b""
        with sock:
            try:
                sock.sendall(request)
                chunks = []
                while True:
                    data = sock.recv(65536)
                    if not data:
                        break
                    chunks.append(data)
                    if b"\r\n\r\n" in b"".join(chunks):
                        break
                return b"".join(chunks)
            except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
                return b""
