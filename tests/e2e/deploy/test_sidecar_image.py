"""The sidecar image, built here with buildah and run with podman, in the whole path `/shop/orders/7` takes.

front door (edge, its own principal) -> orders sidecar (the image, under podman) -> orders app -> payments
sidecar (a process) -> payments app. Every process reaches the local AWS endpoint through a CallRecorder, each
role with its own access key, so the same run records the AWS calls the IAM test judges
(test_iam_matches_calls.py reads them from the `system` fixture). The orders sidecar's AuthorizationPolicy admits
only the edge's SPIFFE identity. The last test stops the container with SIGTERM and checks the drain.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from system_fixture import EDGE, SIDECAR, System, http_get, running_system

from localdev.deploy import image, policy, roles


class _Keep(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 302 comes back as it is: the test follows the sign-in's redirects itself


_NO_REDIRECTS = urllib.request.build_opener(_Keep)


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: Message
    body: bytes

    def read(self) -> bytes:
        return self.body


def test_image_was_built_by_buildah_and_reports_its_size(system: System) -> None:
    report = system.image
    labels = image.podman("image", "inspect", "--format", "{{json .Config}}", report.image)
    config = json.loads(labels)
    assert config["Entrypoint"] == ["portico", "sidecar"]
    assert config["User"] == "10001"
    assert "15443/tcp" in config["ExposedPorts"]
    assert report.size > 0 and report.compressed_size > 0
    unpacked, gzipped = report.size / 1e6, report.compressed_size / 1e6
    print(f"sidecar image {report.image}: {unpacked:.0f} MB unpacked, {gzipped:.0f} MB gzipped")


def test_image_sidecar_runs_the_compiled_modules_make_install_built(system: System) -> None:
    """docs/native.md: the image ships the mypyc extensions built for its Python 3.11, and its interpreter loads
    them (a pure wheel would import the .py files; an extension its glibc or Python could not load fails the import)."""
    from localdev import native

    expected = image.native_extensions()
    if not expected:
        pytest.skip("no extensions built for Python 3.11 (make install NATIVE=0, or another Python)")
    probe = "import importlib, sys; [print(importlib.import_module(n).__file__) for n in sys.argv[1:]]"
    name = f"portico-native-probe-{int(time.time() * 1000)}"
    tag = system.image.image
    command = [*image.run_command(tag, name, {}, [])[:-1], "--entrypoint", "python", tag, "-c", probe]
    done = subprocess.run([*command, *native.modules()], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    files = done.stdout.split()
    assert len(files) == len(native.modules())
    assert all(f.startswith("/opt/portico/") and ".cpython-311-" in f and f.endswith(".so") for f in files), files


def test_container_sidecar_registers_in_the_registry(system: System) -> None:
    from portico.adapters.dynamodb.registry_store import DynamoDbRegistryStore

    store = DynamoDbRegistryStore(system.tables["registry"])
    assert [i.instance_id for i in store.instances("orders")] == [system.orders_instance]


def test_edge_reaches_the_container_over_mtls_as_its_own_identity(system: System) -> None:
    status, body = http_get(f"{system.frontdoor}/shop/orders/7")
    assert status == 200, body
    answer = json.loads(body)
    # orders answered, after calling payments through its own (containerised) sidecar: mTLS both ways
    assert answer["service"] == "orders", answer
    assert answer["payments"]["service"] == "payments" and answer["payments"]["path"] == "/charge", answer
    # the container's inbound listener admitted the edge only because its AuthorizationPolicy names the edge's
    # SPIFFE identity, which the edge proved with a certificate from the CA (the next test shows a peer it
    # does not name is refused)


def test_authorization_policy_denies_a_peer_it_does_not_name(system: System) -> None:
    # payments' sidecar holds a valid mesh certificate, but orders' policy admits only the edge
    status, body = system.via_payments("orders", "/orders/1")
    assert status == 403 and b"RBAC: access denied" in body, body


def test_edge_counts_quota_and_invokes_lambda_upstreams(system: System) -> None:
    # the other AWS calls an edge makes: quota counters in DynamoDB, a Lambda upstream
    for _ in range(3):
        status, body = http_get(f"{system.frontdoor}/limited")
        assert status == 200 and json.loads(body) == {"limited": True}, body
    status, body = http_get(f"{system.frontdoor}/fn")
    assert status == 200, body


def test_portal_signs_in_through_the_issuer_creates_a_key_and_reads_usage(system: System) -> None:
    # the portal's AWS calls: the session key from Secrets Manager, a consumer's sign-up and key (TransactWriteItems
    # with their history records, then the history trimmed to PORTICO_HISTORY_LIMIT=2), usage (BatchGetItem)
    from portico.adapters.dynamodb.config_store import DynamoDbConfigStore

    jar: dict[str, str] = {}

    def send(url: str, method: str = "GET", data: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
        cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
        request = urllib.request.Request(url, data=data, method=method, headers={**(headers or {}), "Cookie": cookie})
        try:
            response = _NO_REDIRECTS.open(request, timeout=15)
        except urllib.error.HTTPError as error:
            response = error
        with response:  # read and closed here: an unclosed one leaks its socket until a later GC warns of it
            answer = _Answer(response.status, response.headers, response.read())
        for raw in answer.headers.get_all("Set-Cookie") or []:
            name, _, value = raw.split(";", 1)[0].partition("=")
            jar[name] = value
        return answer

    portal = f"{system.frontdoor}/_portico/portal"
    login = send(f"{portal}/login")
    assert login.status == 302, login.read()
    authorize = urllib.parse.urlsplit(login.headers["Location"])
    form = dict(urllib.parse.parse_qsl(authorize.query)) | {"username": "iam-check"}
    issued = send(authorize._replace(query="").geturl(), "POST", urllib.parse.urlencode(form).encode())
    assert issued.status == 302, issued.read()
    signed_in = send(issued.headers["Location"])
    assert signed_in.status in (200, 302, 303) and "portico_session" in jar, signed_in.read()
    me = send(f"{portal}/api/me")
    assert me.status == 200
    csrf = json.loads(me.read())["csrf"]
    writes = {"Origin": system.frontdoor, "X-CSRF-Token": csrf, "Content-Type": "application/json"}
    made = send(f"{portal}/api/keys", "POST", b'{"label": "iam"}', writes)
    assert made.status == 201, made.read()
    assert json.loads(made.read())["key"].startswith("ptk_")
    usage = send(f"{portal}/api/usage")
    assert usage.status == 200, usage.read()
    history = DynamoDbConfigStore(system.tables["config"]).history().records
    assert [(r.action, r.who) for r in history][:1] == [("portal", "portal:iam-check")] and len(history) == 2


def test_sigterm_drains_in_flight_and_leaves_the_registry(system: System) -> None:
    from portico.adapters.dynamodb.registry_store import DynamoDbRegistryStore

    fetch = f"import urllib.request; print(urllib.request.urlopen('{system.frontdoor}/slow?ms=1500').status)"
    slow = subprocess.Popen([sys.executable, "-c", fetch], stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        while system.app_hits("/slow") == 0 and time.monotonic() < deadline:  # until it is in flight at the app
            time.sleep(0.05)
        assert system.app_hits("/slow") == 1, "the slow request never reached the app"
        assert system.container.poll() is None
        system.container.send_signal(signal.SIGTERM)  # podman proxies it to the entry command
        code = system.container.wait(30)
        out, _ = slow.communicate(timeout=20)
    finally:
        if slow.poll() is None:
            slow.kill()
        slow.communicate(timeout=10)
    assert out.strip() == "200", out
    assert code == 0, system.container_log()
    assert DynamoDbRegistryStore(system.tables["registry"]).instances("orders") == []


@pytest.fixture(scope="module")
def system(local_aws: str, pca_arn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with running_system(local_aws, pca_arn, tmp_path_factory.mktemp("system")) as running:
        yield running


# ---------------------------------------------------------------- IAM: recorded calls against the templates' roles
# Runs after the drain above, so the sidecar's deregistration is among the recorded calls.

# What AWS attaches for the platform, not for Portico's code: Lambda writes the function's logs, X-Ray's
# daemon sends the traces of `Tracing: Active`, Lambda manages the VPC network interfaces.
EDGE_PLATFORM_POLICIES = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
}


def _resources(system: System, pca_arn: str) -> roles.Resources:
    from portico.adapters.aws import client

    account = client("sts").get_caller_identity()["Account"]
    return roles.Resources(account=account, region="us-east-1", tables=system.tables, ca_arn=pca_arn)


def _requests(system: System, principal: str, account: str) -> list[policy.Request]:
    calls = system.recorder.calls(principal)
    assert calls, f"no AWS call was recorded for {principal}"
    return [r for c in calls for r in policy.requests(c, account)]


def _show(verdict: policy.Verdict) -> str:
    denied = "\n  ".join(f"{r.action} on {r.resource}" for r in verdict.denied) or "none"
    unused = "\n  ".join(verdict.unused) or "none"
    return f"used but not allowed:\n  {denied}\nallowed but never used:\n  {unused}"


def test_edge_role_allows_exactly_the_calls_the_edge_made(system: System, pca_arn: str, tmp_path: Path) -> None:
    res = _resources(system, pca_arn)
    parameters = {"Mesh": "enabled", "SidecarImage": "x", "AppImage": "y"}
    parameters["PortalSessionSecretArn"] = system.portal_secret  # the portal's sign-in is on
    edge = roles.edge_role(res, tmp_path, parameters)
    assert set(edge.managed) == EDGE_PLATFORM_POLICIES
    requests = _requests(system, EDGE, res.account)
    verdict = policy.judge(edge.statements, requests)
    print("edge calls:", sorted({r.action for r in requests}))
    assert not verdict.denied and not verdict.unused, _show(verdict)


def test_sidecar_role_allows_exactly_the_calls_the_sidecars_made(system: System, pca_arn: str) -> None:
    res = _resources(system, pca_arn)
    sidecar = roles.sidecar_role(res)
    assert sidecar.managed == []
    requests = _requests(system, SIDECAR, res.account)
    verdict = policy.judge(sidecar.statements, requests)
    print("sidecar calls:", sorted({r.action for r in requests}))
    assert not verdict.denied and not verdict.unused, _show(verdict)


def test_the_check_fails_on_a_missing_and_on_an_unused_permission(system: System, pca_arn: str) -> None:
    res = _resources(system, pca_arn)
    statements = roles.sidecar_role(res).statements
    requests = _requests(system, SIDECAR, res.account)
    narrowed = [{**s, "Action": [a for a in policy._list(s["Action"]) if a != "dynamodb:PutItem"]} for s in statements]
    assert any(r.action == "dynamodb:PutItem" for r in policy.judge(narrowed, requests).denied)
    widened = [*statements, {"Sid": "Extra", "Effect": "Allow", "Action": "dynamodb:DeleteTable", "Resource": "*"}]
    assert policy.judge(widened, requests).unused == ["Extra: dynamodb:DeleteTable on *"]
