"""The whole local system around the sidecar image: tables, config, apps, sidecars, the edge, a call recorder.

Used by test_sidecar_image.py; every process it starts is stopped when the context ends. Each role reaches the
local AWS endpoint through one CallRecorder with its own access key id (EDGE, SIDECAR, OPERATOR), so the calls
are attributed to the role that made them whatever client library made them.
"""

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
from typing import IO

from localdev.deploy import image
from localdev.deploy.calls import CallRecorder
from localdev.deploy.tools import REPO
from tests.e2e.conftest import wait_listening

EDGE, SIDECAR, OPERATOR = "AKIAPORTICOEDGE", "AKIAPORTICOSIDECAR", "AKIAPORTICOOPERATOR"
UPSTREAM_FUNCTION_PREFIX = "portico-upstream-"  # template.yaml's UpstreamFunctionPrefix default

CONFIG = """\
apiVersion: portico/v1
kind: Route
metadata: {{name: shop-order}}
spec:
  match: {{methods: [GET], path: "/shop/orders/{{orderId}}"}}
  auth: {{none: {{}}}}
  upstream: {{service: {{name: orders, path: "/orders/{{orderId}}", timeout: 10s}}}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: slow}}
spec:
  match: {{methods: [GET], path: /slow}}
  auth: {{none: {{}}}}
  upstream: {{service: {{name: orders, timeout: 10s}}}}  # no path: the request's path and query go as they are
---
apiVersion: portico/v1
kind: RateLimitPolicy
metadata: {{name: per-ip}}
spec:
  key: ip
  limits: [{{requests: 100, window: 1m}}]
  failureMode: open  # the counter's UpdateItem is sent (and recorded) either way; a slow local store answers 200
---
apiVersion: portico/v1
kind: Route
metadata: {{name: limited}}
spec:
  match: {{methods: [GET], path: /limited}}
  auth: {{none: {{}}}}
  rateLimit: per-ip
  upstream: {{mock: {{status: 200, json: {{limited: true}}}}}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: fn}}
spec:
  match: {{methods: [GET], path: /fn}}
  auth: {{none: {{}}}}
  upstream: {{lambda: {{functionName: {function}, timeout: 10s}}}}
---
apiVersion: portico/v1
kind: Issuer
metadata: {{name: dev}}
spec:
  issuer: "{issuer}/"
  jwksUri: "{issuer}/.well-known/jwks.json"
  authorizationEndpoint: "{issuer}/authorize"
  tokenEndpoint: "{issuer}/token"
  audiences: ["api://portico-demo"]
---
apiVersion: portico/v1
kind: RateLimitPolicy
metadata: {{name: portal-plan}}
spec:
  key: consumer
  limits: [{{requests: 100, window: 1m}}]
---
apiVersion: portico/v1
kind: Portal
metadata: {{name: portal}}
spec:
  signIn: {{issuer: dev, clientId: portico-portal, redirectUri: "{door}/_portico/portal/callback"}}
  plan: portal-plan
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {{name: orders-from-edge}}
spec:
  selector: {{matchLabels: {{app: orders}}}}
  action: ALLOW
  rules:
    - from: [{{source: {{principals: [{edge_principal}]}}}}]
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {{name: payments-from-orders}}
spec:
  selector: {{matchLabels: {{app: payments}}}}
  action: ALLOW
  rules:
    - from: [{{source: {{principals: [cluster.local/ns/default/sa/orders]}}}}]
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(url: str, headers: dict[str, str] | None = None, timeout: float = 10.0) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:  # closed: an HTTPError holds the connection's socket
            return error.code, error.read()


@dataclass
class System:
    image: image.BuildReport
    recorder: CallRecorder
    tables: dict[str, str]
    frontdoor: str
    portal_secret: str  # the ARN of the portal's session key secret (PortalSessionSecretArn)
    orders_instance: str
    orders_admin: int
    orders_app: int
    payments_outbound: int
    container: subprocess.Popen[bytes]
    logs: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def via_payments(self, host: str, path: str) -> tuple[int, bytes]:
        return http_get(f"http://127.0.0.1:{self.payments_outbound}{path}", {"Host": host})

    def app_hits(self, path: str) -> int:
        """How many requests for `path` the orders app has seen (the demo app counts them)."""
        return int(json.loads(http_get(f"http://127.0.0.1:{self.orders_app}/hits")[1]).get(path, 0))

    def container_log(self) -> str:
        return (self.logs / "orders-sidecar.log").read_text()[-4000:]


def _aws_env(recorder: CallRecorder, key: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": recorder.url,
        "AWS_ACCESS_KEY_ID": key,
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }


def _wait_ready(admin: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{log.name} exited {proc.returncode}: {log.read_text()[-4000:]}")
        with contextlib.suppress(OSError):
            if http_get(f"http://127.0.0.1:{admin}/ready", timeout=0.5)[0] == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"{log.name} not ready after {timeout:.0f}s: {log.read_text()[-4000:]}")


def _lambda_upstream(local_aws: str) -> str:
    """A function under the edge's allowed prefix (moto answers invokes with a fixed payload, no Docker)."""
    import io
    import json
    import zipfile

    from portico.adapters.aws import client

    request = urllib.request.Request(
        f"{local_aws}/moto-api/config",
        data=json.dumps({"lambda": {"use_docker": False}}).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=5).close()
    name = f"{UPSTREAM_FUNCTION_PREFIX}{uuid.uuid4().hex[:8]}"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return {'statusCode': 200, 'body': 'hi'}\n")
    role = client("iam").create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    client("lambda").create_function(
        FunctionName=name, Runtime="python3.11", Role=role, Handler="app.handler", Code={"ZipFile": buffer.getvalue()}
    )
    return name


@contextlib.contextmanager
def running_system(local_aws: str, pca_arn: str, tmp: Path) -> Iterator[System]:
    """Build (or reuse) the image, then start everything; stop everything on exit."""
    from localdev.tables import create_tables
    from portico.adapters.aws import client

    report = image.build()
    suffix = uuid.uuid4().hex[:10]
    tables = {role: f"portico-{role}-{suffix}" for role in ("config", "quota", "registry")}
    create_tables(client("dynamodb"), tables)
    function = _lambda_upstream(local_aws)
    procs: list[subprocess.Popen[bytes]] = []
    handles: list[IO[bytes]] = []
    container_name = f"portico-test-{suffix}"

    with CallRecorder(local_aws) as recorder:
        base = {
            k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PORTICO_")) and k != "PYTEST_CURRENT_TEST"
        }
        base["PYTHONPATH"] = os.pathsep.join([str(REPO / "shared"), str(REPO)])
        portico = {f"PORTICO_{role.upper()}_TABLE": name for role, name in tables.items()}
        portico |= {"PORTICO_PCA_ARN": pca_arn, "PORTICO_CONFIG_REFRESH": "0.5", "PORTICO_REGISTRY_REFRESH": "0.5"}
        portico |= {"PORTICO_HEARTBEAT_INTERVAL": "1", "PORTICO_LOG_LEVEL": "WARNING"}

        def start(name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
            handle = (tmp / f"{name}.log").open("wb")
            handles.append(handle)
            proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT)
            procs.append(proc)
            return proc

        # Everything started from here on is stopped by the finally below, even when set-up fails half-way.
        try:
            # The developer portal's sign-in: the dev issuer (login page, token endpoint, JWKS) and the session key in
            # Secrets Manager, as PortalSessionSecretArn has it on AWS.
            issuer_port, door_port = free_port(), free_port()
            issuer = f"http://127.0.0.1:{issuer_port}"
            door = f"http://127.0.0.1:{door_port}"
            start("issuer", [sys.executable, "-m", "localdev.issuer", "--dir", str(tmp / "issuer"),
                             "--port", str(issuer_port)], base)  # fmt: skip
            session_secret = client("secretsmanager").create_secret(
                Name=f"portico-portal-session-{suffix}", SecretString=os.urandom(32).hex()
            )["ARN"]
            config = tmp / "config.yaml"
            config.write_text(
                CONFIG.format(
                    function=function, edge_principal="cluster.local/ns/default/sa/edge", issuer=issuer, door=door
                )
            )
            applied = subprocess.run(
                [sys.executable, "-m", "portico", "apply", "-f", str(config)],
                env={**base, **portico, **_aws_env(recorder, OPERATOR), "PORTICO_ALLOW_LOOPBACK_UPSTREAMS": "true"},
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert applied.returncode == 0, applied.stdout + applied.stderr

            py = sys.executable
            ports = {name: free_port() for name in ("orders_app", "orders_in", "orders_out", "orders_admin")}
            ports |= {name: free_port() for name in ("pay_app", "pay_in", "pay_out", "pay_admin")}
            sidecar_env = {**base, **portico, **_aws_env(recorder, SIDECAR)}
            start(
                "payments-app",
                [py, "-m", "localdev.demo.app", "--service", "payments", "--port", str(ports["pay_app"])],
                base,
            )
            payments = start(
                "payments-sidecar",
                [py, "-m", "portico", "sidecar", "--service", "payments", "--app-port", str(ports["pay_app"]),
                 "--inbound-port", str(ports["pay_in"]), "--outbound-port", str(ports["pay_out"]),
                 "--admin-port", str(ports["pay_admin"]), "--instance-id", "payments-1"],
                sidecar_env,
            )  # fmt: skip
            orders_app = [py, "-m", "localdev.demo.app", "--service", "orders", "--port", str(ports["orders_app"])]
            start("orders-app", [*orders_app, "--outbound", f"127.0.0.1:{ports['orders_out']}"], base)
            container_env = {k: v for k, v in {**portico, **_aws_env(recorder, SIDECAR)}.items()}
            args = [
                "--service",
                "orders",
                "--app-port",
                str(ports["orders_app"]),
                "--inbound-port",
                str(ports["orders_in"]),
            ]
            args += ["--outbound-port", str(ports["orders_out"]), "--admin-port", str(ports["orders_admin"])]
            args += ["--instance-id", "orders-container", "--address", "127.0.0.1"]
            container = start(
                "orders-sidecar", image.run_command(report.image, container_name, container_env, args), base
            )
            _wait_ready(ports["pay_admin"], payments, tmp / "payments-sidecar.log")
            _wait_ready(ports["orders_admin"], container, tmp / "orders-sidecar.log", timeout=90)

            edge_env = {**base, **portico, **_aws_env(recorder, EDGE), "PORTICO_ALLOW_LOOPBACK_UPSTREAMS": "true"}
            # two history records kept, so a portal change also trims the history (its Query and DeleteItem)
            edge_env |= {"PORTICO_PORTAL_SESSION_SECRET_ID": session_secret, "PORTICO_HISTORY_LIMIT": "2"}
            front = start("frontdoor", [py, "-m", "localdev.frontdoor", "--port", str(door_port)], edge_env)
            frontdoor = wait_listening(front, tmp / "frontdoor.log", "front door")
            wait_listening(procs[0], tmp / "issuer.log", "dev issuer")
            yield System(
                image=report,
                recorder=recorder,
                tables=tables,
                frontdoor=frontdoor,
                portal_secret=session_secret,
                orders_instance="orders-container",
                orders_admin=ports["orders_admin"],
                orders_app=ports["orders_app"],
                payments_outbound=ports["pay_out"],
                container=container,
                logs=tmp,
                procs=procs,
            )
        finally:
            # by name: the container may not have started, or may have stopped already (both harmless here)
            subprocess.run(
                ["podman", *image.storage_args(), "kill", container_name], capture_output=True, timeout=30, check=False
            )
            for proc in reversed(procs):
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
            for handle in handles:
                handle.close()
            subprocess.run(
                ["podman", *image.storage_args(), "rm", "--force", container_name],
                capture_output=True,
                timeout=30,
                check=False,
            )
            ddb = client("dynamodb")
            for name in tables.values():
                with contextlib.suppress(Exception):
                    ddb.delete_table(TableName=name)
