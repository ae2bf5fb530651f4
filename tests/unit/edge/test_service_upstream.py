"""The edge's `service` upstream through the real pipeline, with an in-memory mesh client standing in for the
registry and mTLS (those run for real in tests/e2e/meshobs)."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass, field

from portico.core.chain import Context
from portico.core.config.configset import ConfigSet
from portico.core.config.context import ValidationSettings
from portico.core.config.loader import parse_documents
from portico.core.config.snapshot import LoadedConfig
from portico.core.headers import Headers
from portico.core.http import Request, Response
from portico.core.ports import UpstreamConnectError
from portico.edge.pipeline import EdgeDeps, Pipeline, build_pipeline

CONFIG = """
apiVersion: portico/v1
kind: Route
metadata: {name: shop-order}
spec:
  match: {methods: [GET, POST], path: "/shop/orders/{id}"}
  auth: {none: {}}
  upstream: {service: {name: orders, path: "/orders/{id}", timeout: 3s}}
---
apiVersion: portico/v1
kind: Route
metadata: {name: shop-any}
spec:
  match: {pathPrefix: /stock}
  auth: {none: {}}
  upstream: {service: {name: stock}}
---
apiVersion: portico/v1
kind: Route
metadata: {name: shop-page}
spec:
  match: {methods: [GET], path: "/page/{id}"}
  auth: {none: {}}
  upstream:
    aggregate:
      onPartialFailure: degrade
      parts:
        order: {service: {name: orders, path: "/orders/{id}"}}
        gone: {service: {name: nowhere}}
"""


@dataclass
class FakeMesh:
    """Answers for known services, raises a connect error for others (no live instance), records every call."""

    calls: list[tuple[str, Request, str, float]] = field(default_factory=list)
    made: int = 0

    async def get(self) -> FakeMesh:
        self.made += 1
        return self

    async def call(self, service: str, request: Request, path: str, timeout: float) -> Response:
        self.calls.append((service, request, path, timeout))
        if service == "nowhere":
            raise UpstreamConnectError("no live instance of mesh service 'nowhere'")
        body = json.dumps({"service": service, "path": path}).encode()
        return Response(200, Headers([("content-type", "application/json"), ("connection", "keep-alive")]), body)


def _pipeline(mesh: FakeMesh | None) -> Pipeline:
    docs, issues = parse_documents(CONFIG, settings=ValidationSettings(allow_loopback=True))
    assert not issues, issues
    rng = random.Random(3)
    deps = EdgeDeps(
        rng=rng.randbytes,
        jitter=lambda: 0.0,
        transport=lambda: None,  # type: ignore[arg-type,return-value]
        invoker=lambda: None,  # type: ignore[arg-type,return-value]
        mesh=mesh.get if mesh is not None else None,
    )
    return build_pipeline(LoadedConfig(1, ConfigSet.of(docs)), deps)


def _call(pipe: Pipeline, method: str, target: str, headers: list[tuple[str, str]] | None = None) -> Response:
    path, _, query = target.partition("?")
    request = Request(
        method,
        path,
        headers=Headers([("host", "api.test"), *(headers or [])]),
        raw_query=query,
        host="api.test",
        source_ip="198.51.100.7",
    )
    return asyncio.run(pipe.handler(Context(request=request, now=1e6, request_id="req-1")))


def test_service_route_calls_the_mesh_with_the_trace_and_filled_path() -> None:
    mesh = FakeMesh()
    pipe = _pipeline(mesh)
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    resp = _call(pipe, "GET", "/shop/orders/42?x=1", [("traceparent", parent), ("x-portico-sub", "forged")])
    assert resp.status == 200 and "connection" not in resp.headers
    service, request, path, timeout = mesh.calls[0]
    assert (service, path, timeout) == ("orders", "/orders/42?x=1", 3.0)
    assert request.host == "orders" and request.headers.get("host") == "orders"
    sent = request.headers.get("traceparent") or ""
    assert sent.split("-")[1] == "0af7651916cd43dd8448eb211c80319c"  # the caller's trace goes on ...
    assert sent.split("-")[2] != "b7ad6b7169203331"  # ... with the edge's own span as the parent
    assert request.headers.get("x-request-id") == "req-1"
    assert request.headers.get("x-portico-sub") is None  # client-sent x-portico-* never reach the mesh
    assert request.headers.get("x-forwarded-host") == "api.test"


def test_without_a_path_the_request_path_is_forwarded_and_the_client_is_made_once() -> None:
    mesh = FakeMesh()
    pipe = _pipeline(mesh)
    assert _call(pipe, "GET", "/stock/a/b").status == 200
    assert _call(pipe, "GET", "/stock").status == 200
    assert [c[2] for c in mesh.calls] == ["/stock/a/b", "/stock"]


def test_aggregate_parts_of_kind_service_use_the_same_path() -> None:
    mesh = FakeMesh()
    resp = _call(_pipeline(mesh), "GET", "/page/7")
    assert resp.status == 200 and resp.headers.get("x-portico-completed") == "false"
    body = json.loads(resp.body)
    assert body["order"] == {"service": "orders", "path": "/orders/7"}
    assert body["gone"] is None and body["errors"][0]["part"] == "gone"  # no live instance: a failed part
    assert mesh.made == 2  # the client factory is asked per call; it caches the client itself


def test_no_mesh_client_wired_is_a_502_problem() -> None:
    resp = _call(_pipeline(None), "GET", "/shop/orders/1")
    assert resp.status == 502 and resp.headers.get("content-type") == "application/problem+json"


def test_an_edge_without_identity_settings_answers_a_clear_connect_error() -> None:
    import pytest

    from portico.edge.mesh_client import LazyMeshClient

    lazy = LazyMeshClient({}, retry_after=60.0)
    for _ in range(2):  # the second time from the remembered failure, without asking the CA again
        with pytest.raises(UpstreamConnectError, match=r"no mesh identity.*PORTICO_PCA_ARN"):
            asyncio.run(lazy.get())
