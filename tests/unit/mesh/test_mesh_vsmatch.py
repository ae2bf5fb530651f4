"""VirtualService matching: uri/method/headers/query, first match wins, default route, rewrite."""

from __future__ import annotations

import yaml

from portico.core.config.configset import ConfigSet
from portico.core.config.loader import parse_documents
from portico.core.headers import Headers
from portico.core.http import Request
from portico.core.mesh.vsmatch import RouteTable, rewrite_path

VS = """
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: payments}
spec:
  hosts: [payments.default.svc.cluster.local]
  http:
    - name: beta-users
      match:
        - headers: {x-user: {exact: beta}}
          uri: {prefix: /v2/}
        - queryParams: {canary: {exact: "1"}}
      rewrite: {uri: /}
      route: [{destination: {host: payments, subset: v2}}]
    - name: posts
      match: [{method: {exact: POST}, uri: {regex: "/charge/[0-9]+"}}]
      retries: {attempts: 0}
      route: [{destination: {host: payments, subset: v1}}]
    - name: rest
      route:
        - {destination: {host: payments, subset: v1}, weight: 90}
        - {destination: {host: payments, subset: v2}, weight: 10}
"""


def _table() -> RouteTable:
    docs, issues = parse_documents(VS)
    assert not issues
    return RouteTable.build(ConfigSet.of(docs))


def _req(method: str = "GET", path: str = "/", headers: dict[str, str] | None = None, query: str = "") -> Request:
    q = [tuple(p.split("=")) for p in query.split("&") if p]
    return Request(method, path, query=q, headers=Headers((headers or {}).items()), raw_query=query)  # type: ignore[arg-type]


def test_first_matching_route_wins() -> None:
    t = _table()
    assert t.match("payments", _req(path="/v2/x", headers={"x-user": "beta"})).name == "beta-users"
    assert t.match("payments", _req(path="/v2/x")).name == "rest"  # AND inside one match entry
    assert t.match("payments", _req(query="canary=1")).name == "beta-users"  # OR across entries
    assert t.match("payments", _req("POST", "/charge/12")).name == "posts"
    assert t.match("payments", _req("POST", "/charge/12x")).name == "rest"  # regex is a full match


def test_split_and_single_destination_weights() -> None:
    t = _table()
    assert [w for _, w in t.match("payments", _req()).destinations] == [90, 10]
    assert [w for _, w in t.match("payments", _req(query="canary=1")).destinations] == [100]


def test_unknown_service_gets_a_default_route_to_itself() -> None:
    route = _table().match("ledger", _req())
    assert route.destinations[0][0].host == "ledger" and route.retry.attempts == 2


def test_prefix_rewrite_replaces_the_matched_prefix() -> None:
    t = _table()
    req = _req(path="/v2/items/1", headers={"x-user": "beta"})
    route = t.match("payments", req)
    assert rewrite_path(req.path, route.prefix_for(req), route.rewrite) == "/items/1"


def test_yaml_fixture_is_istio_shaped() -> None:
    assert yaml.safe_load_all(VS)
