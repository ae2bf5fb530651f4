"""Issue 20 defects 4 and 17 through real sidecars: an `istio.io/dry-run` DENY policy only reports, while `when`,
`ipBlocks` and `notPaths` are enforced on the inbound side after a real mTLS handshake."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request

import pytest

from tests.e2e.mtls.conftest import MtlsMesh, Sidecar, http

pytestmark = pytest.mark.e2e

POLICIES = """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: shadow-deny-everything
  annotations: {istio.io/dry-run: "true"}
spec:
  selector: {matchLabels: {app: payments}}
  action: DENY
  rules: [{from: [{source: {principals: ["*"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: block-header}
spec:
  selector: {matchLabels: {app: payments}}
  action: DENY
  rules: [{when: [{key: "request.headers[x-block]", values: ["yes"]}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: local-callers-not-admin}
spec:
  selector: {matchLabels: {app: payments}}
  action: ALLOW
  rules:
    - from: [{source: {ipBlocks: ["127.0.0.0/8"], principals: ["cluster.local/ns/default/sa/orders"]}}]
      to: [{operation: {notPaths: ["/admin/*"]}}]
      when: [{key: source.namespace, values: [default]}]
"""


def _call(caller: Sidecar, path: str, headers: dict[str, str] | None = None) -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{caller.outbound}{path}", method="POST", data=b"{}")
    req.add_header("Host", "payments")
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        with e:  # closed: an HTTPError holds the connection's socket
            return int(e.code)


def _counter(car: Sidecar, name: str, result: str) -> float:
    text = http(f"http://127.0.0.1:{car.admin}/stats")[1].decode()
    found = re.search(rf'^{name}\{{result="{result}"\}} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_dry_run_reports_and_conditions_enforce(mesh: MtlsMesh) -> None:
    mesh.config(POLICIES)
    payments = mesh.start("payments")
    orders = mesh.start("orders", app=False)
    mesh.wait_routable(orders, "payments", "/charge")

    assert _call(orders, "/charge") == 200  # the dry-run DENY matches every caller, and denies none
    assert _call(orders, "/charge", {"x-block": "yes"}) == 403  # when: request.headers
    assert _call(orders, "/charge", {"x-block": "no"}) == 200
    assert _call(orders, "/admin/users") == 403  # notPaths
    assert _call(orders, "/public/..%2Fadmin/users") == 403  # normalised before the decision

    deadline = time.monotonic() + 5
    while _counter(payments, "portico_authz_dry_run_total", "denied") < 3:
        assert time.monotonic() < deadline, "dry-run decisions were not counted"
        time.sleep(0.1)
