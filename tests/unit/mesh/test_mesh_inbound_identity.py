"""Inbound peer identity and authorisation: the certificate is read once per connection, and a workload with no
AuthorizationPolicy skips evaluation yet still refuses a caller without a verified identity."""

from __future__ import annotations

import asyncio
from typing import Any

from portico.adapters.tls.peer import PeerPolicy
from portico.core.chain import Context
from portico.core.config.configset import ConfigSet
from portico.core.config.mesh_documents import AuthorizationPolicy
from portico.core.headers import Headers
from portico.core.http import Request, Response
from portico.core.mtls.authz import Workload
from portico.mesh.attrs import CONN, SPIFFE_ID
from portico.mesh.authz import AuthorizationFilter
from portico.mesh.http1 import ConnInfo
from portico.mesh.inbound import PEER_HEADER, PeerIdentityFilter

ORDERS = {"subjectAltName": (("URI", "spiffe://cluster.local/ns/default/sa/orders"),)}
OTHER_DOMAIN = {"subjectAltName": (("URI", "spiffe://evil.example/ns/default/sa/orders"),)}


async def _ok(ctx: Context) -> Response:
    return Response(200)


def _call(f: Any, info: ConnInfo, attrs: dict[str, Any] | None = None) -> tuple[Response, Context]:
    ctx = Context(request=Request("GET", "/charge", headers=Headers([("host", "payments")])), now=0.0)
    ctx.attrs.update({CONN: info, **(attrs or {})})
    return asyncio.run(f(ctx, _ok)), ctx


def test_the_peer_certificate_is_read_once_per_connection() -> None:
    f = PeerIdentityFilter(PeerPolicy("cluster.local"))
    info = ConnInfo(peer=("10.0.0.1", 5000), tls=True, peer_cert=ORDERS)
    first, ctx = _call(f, info)
    assert first.status == 200 and ctx.request.headers.get(PEER_HEADER) == "spiffe://cluster.local/ns/default/sa/orders"
    info.peer_cert = OTHER_DOMAIN  # cannot happen on a real connection: shows the verdict is not recomputed
    again, ctx = _call(f, info)
    assert again.status == 200 and str(ctx.attrs[SPIFFE_ID]) == "spiffe://cluster.local/ns/default/sa/orders"


def test_a_refused_certificate_stays_refused_on_every_request_of_its_connection() -> None:
    f = PeerIdentityFilter(PeerPolicy("cluster.local"))
    info = ConnInfo(peer=("10.0.0.1", 5000), tls=True, peer_cert=OTHER_DOMAIN)
    for _ in range(2):
        resp, ctx = _call(f, info)
        assert resp.status == 403 and SPIFFE_ID not in ctx.attrs


def _deny_all() -> AuthorizationPolicy:
    return AuthorizationPolicy.model_validate(
        {
            "apiVersion": "security.istio.io/v1",
            "kind": "AuthorizationPolicy",
            "metadata": {"name": "deny-orders"},
            "spec": {
                "action": "DENY",
                "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/default/sa/orders"]}}]}],
            },
        }
    )


def test_no_policy_allows_a_verified_peer_and_a_new_policy_applies_at_once() -> None:
    state: dict[str, Any] = {"version": 1, "config": ConfigSet()}
    f = AuthorizationFilter(lambda: (state["version"], state["config"]), Workload("default", {"app": "payments"}))
    peer = PeerIdentityFilter(PeerPolicy("cluster.local"))
    info = ConnInfo(peer=None, tls=True, peer_cert=ORDERS)
    _, ctx = _call(peer, info)
    spiffe = ctx.attrs[SPIFFE_ID]
    assert f.policies().allows_all
    assert _call(f, info, {SPIFFE_ID: spiffe})[0].status == 200
    assert _call(f, info)[0].status == 403  # no verified identity: refused even with no policy
    state.update(version=2, config=ConfigSet.of([_deny_all()]))
    assert not f.policies().allows_all
    assert _call(f, info, {SPIFFE_ID: spiffe})[0].status == 403
