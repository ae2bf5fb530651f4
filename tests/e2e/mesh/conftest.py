"""Real sidecar and demo-app processes on free ports, against the local AWS endpoint; every process is cleaned up."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        with e:  # closed: an HTTPError holds the connection's socket
            return e.code, e.read()


@dataclass
class Instance:
    """One app plus its sidecar."""

    name: str
    app_port: int
    inbound: int
    outbound: int
    admin: int
    app: subprocess.Popen[bytes] | None = None
    sidecar: subprocess.Popen[bytes] | None = None

    def dump(self) -> dict[str, Any]:
        return json.loads(get(f"http://127.0.0.1:{self.admin}/config_dump")[1])

    def stats(self) -> str:
        return get(f"http://127.0.0.1:{self.admin}/stats")[1].decode()

    def counter(self, name: str) -> int:
        """Sum of a Prometheus counter across labels (substring match on the sample line)."""
        total = 0
        for line in self.stats().splitlines():
            if line.startswith(name):
                total += int(float(line.rsplit(" ", 1)[1]))
        return total


@dataclass
class Mesh:
    env: dict[str, str]
    tmp: Path
    instances: list[Instance] = field(default_factory=list)
    logs: list[Any] = field(default_factory=list)

    def config(self, text: str) -> Path:
        path = self.tmp / "mesh.yaml"
        tmp = self.tmp / "mesh.yaml.tmp"
        tmp.write_text(text)
        tmp.replace(path)  # atomic: a sidecar never reads half a file
        return path

    def start(
        self,
        service: str,
        *,
        version: str = "v1",
        labels: str | None = None,
        name: str | None = None,
        app: bool = True,
        env: dict[str, str] | None = None,
        wait: bool = True,
        reuse: Instance | None = None,
        app_args: list[str] | None = None,
        config_file: bool = True,
    ) -> Instance:
        inst = reuse or Instance(
            name or f"{service}-{version}-{len(self.instances)}", free_port(), free_port(), free_port(), free_port()
        )
        log = (self.tmp / f"{inst.name}.log").open("ab")
        self.logs.append(log)
        py = sys.executable
        if app and inst.app is None:
            inst.app = subprocess.Popen(
                [
                    py,
                    "-m",
                    "localdev.demo.app",
                    "--service",
                    service,
                    "--version",
                    version,
                    "--port",
                    str(inst.app_port),
                    "--instance",
                    inst.name,
                    *(a.format(outbound=inst.outbound) for a in app_args or []),  # e.g. "127.0.0.1:{outbound}"
                ],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        inst.sidecar = subprocess.Popen(
            [
                py,
                "-m",
                "portico",
                "sidecar",
                "--service",
                service,
                "--app-port",
                str(inst.app_port),
                "--labels",
                labels if labels is not None else f"version={version}",
                "--inbound-port",
                str(inst.inbound),
                "--outbound-port",
                str(inst.outbound),
                "--admin-port",
                str(inst.admin),
                "--instance-id",
                inst.name,
                # without --config-file the sidecar reads the config table, as `portico apply` writes it
                *(["--config-file", str(self.tmp / "mesh.yaml")] if config_file else []),
            ],
            cwd=REPO,
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        if reuse is None:
            self.instances.append(inst)
        if wait:
            self.wait_ready(inst, need_app=app)
        return inst

    def wait_ready(self, inst: Instance, need_app: bool = True, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert inst.sidecar is not None
            if inst.sidecar.poll() is not None:
                raise AssertionError(f"sidecar {inst.name} exited: {(self.tmp / f'{inst.name}.log').read_text()}")
            with contextlib.suppress(OSError):
                status, _ = get(f"http://127.0.0.1:{inst.admin}/ready", timeout=0.5)
                if status == 200 or (not need_app and status == 503):
                    return
            time.sleep(0.1)
        raise AssertionError(f"sidecar {inst.name} not ready: {(self.tmp / f'{inst.name}.log').read_text()[-3000:]}")

    def wait_for(self, client: Instance, service: str, count: int, timeout: float = 10.0) -> None:
        """Until `client`'s sidecar sees `count` instances of `service` in its registry view."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(client.dump().get("registry", {}).get(service, [])) >= count:
                return
            # the view is lazy: one request makes the sidecar start watching the service
            with contextlib.suppress(OSError):
                get_via(client, service, "/healthz")
            time.sleep(0.2)
        raise AssertionError(f"{client.name} never saw {count} instances of {service}")

    def log(self, inst: Instance) -> str:
        """What the app and its sidecar wrote (the sidecar's JSON access-log lines are on its stdout)."""
        return (self.tmp / f"{inst.name}.log").read_text()

    def stop_all(self) -> None:
        procs = [p for i in self.instances for p in (i.sidecar, i.app) if p is not None]
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
        for p in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=5)
        for log in self.logs:
            log.close()


def get_via(client: Instance, host: str, path: str) -> tuple[int, bytes]:
    """A request through a sidecar's outbound listener, Host-based."""
    req = urllib.request.Request(f"http://127.0.0.1:{client.outbound}{path}", headers={"Host": host})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        with e:  # closed: an HTTPError holds the connection's socket
            return e.code, e.read()


def _mesh(tmp: Path, tables: dict[str, str], pca_arn: str) -> Mesh:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "shared"), str(REPO)])
    env.update({f"PORTICO_{role.upper()}_TABLE": name for role, name in tables.items()})
    env.update(
        {
            "PORTICO_CONFIG_REFRESH": "0.2",
            "PORTICO_REGISTRY_REFRESH": "0.5",
            "PORTICO_HEARTBEAT_INTERVAL": "1",
            "PORTICO_SEED": "42",
            "PORTICO_LOG_LEVEL": "WARNING",
            "PORTICO_PCA_ARN": pca_arn,  # inbound mTLS is the default: certificates from the local private CA
        }
    )
    return Mesh(env, tmp)


@pytest.fixture
def mesh(tables: dict[str, str], tmp_path: Path, pca_arn: str) -> Iterator[Mesh]:
    m = _mesh(tmp_path, tables, pca_arn)
    try:
        yield m
    finally:
        m.stop_all()


@pytest.fixture(scope="module")
def module_mesh(local_aws: str, pca_arn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    """One mesh shared by a module's tests (for read-only probing such as the smuggling cases)."""
    from localdev.tables import create_tables
    from portico.adapters.aws import client

    suffix = uuid.uuid4().hex[:12]
    names = {role: f"portico-{role}-{suffix}" for role in ("config", "quota", "registry")}
    ddb = client("dynamodb")
    create_tables(ddb, names)
    m = _mesh(tmp_path_factory.mktemp("mesh"), names, pca_arn)
    try:
        yield m
    finally:
        m.stop_all()
        for name in names.values():
            with contextlib.suppress(Exception):
                ddb.delete_table(TableName=name)
