"""Config for composition is checked at load: JMESPath, regexes, templates, reserved paths, cache and dates."""

from __future__ import annotations

from datetime import UTC, datetime

from portico.core.config.documents import Route
from portico.core.config.loader import parse_documents

ROUTE = """
apiVersion: portico/v1
kind: Route
metadata: {{name: r}}
spec:
  match: {{methods: [{method}], path: "/orders/{{orderId}}"}}
  auth: {{none: {{}}}}
  upstream: {{mock: {{json: {{}}}}}}
{extra}
"""


def issues(extra: str, method: str = "GET") -> list[str]:
    _, found = parse_documents(ROUTE.format(extra=extra, method=method), file="r.yaml")
    return [str(i) for i in found]


def test_invalid_jmespath_is_rejected_with_its_field_path() -> None:
    found = issues("  transform: {request: {body: {jmespath: 'items[?'}}}")
    assert len(found) == 1
    assert found[0].startswith("r.yaml: document 1: spec.transform.request.body.jmespath: invalid JMESPath")
    found = issues("  transform: {response: {body: {jmespath: 'a..b'}}}")
    assert "spec.transform.response.body.jmespath" in found[0]


def test_valid_transform_loads() -> None:
    extra = """  transform:
    request:
      headers: {set: {x-tenant: acme}, add: {x-tag: a}, remove: [x-debug]}
      query: {set: {format: json}, remove: [debug]}
      path: {template: "/v2/orders/{orderId}"}
      body: {jmespath: "{id: orderId, skus: lines[].sku}"}
    response:
      headers: {select: [etag], rename: {etag: x-version}}
      body: {select: [id, total.amount], rename: {id: orderId}}"""
    assert issues(extra) == []


def test_path_template_may_only_use_route_parameters() -> None:
    found = issues("  transform: {request: {path: {template: '/x/{customerId}'}}}")
    assert "customerId, not parameters of match.path" in found[0]


def test_identity_and_framing_headers_are_not_transformable() -> None:
    assert "reserved" in issues("  transform: {request: {headers: {set: {x-portico-sub: admin}}}}")[0]
    assert "reserved" in issues("  transform: {response: {headers: {remove: [content-length]}}}")[0]


def test_portal_prefix_is_reserved() -> None:
    _, found = parse_documents(ROUTE.format(extra="", method="GET").replace("/orders/{orderId}", "/_portico/x"))
    assert "reserved for the developer portal" in str(found[0])


def test_cache_needs_get_or_head_and_a_positive_ttl() -> None:
    assert "cache applies only to GET and HEAD" in issues("  cache: {ttl: 10s}", method="POST")[0]
    assert "spec.cache.ttl" in issues("  cache: {ttl: 0s}")[0]
    assert "spec.cache.maxEntries" in issues("  cache: {ttl: 10s, maxEntries: 0}")[0]
    assert issues("  cache: {ttl: 10s, varyQuery: [q], varyHeaders: [Accept-Language], shared: true}") == []


def test_deprecation_dates_from_yaml_dates_and_order() -> None:
    docs, found = parse_documents(
        ROUTE.format(method="GET", extra="  deprecation: {date: 2026-01-01, sunset: 2026-06-30, link: /docs/v2}")
    )
    assert found == []
    spec = docs[0].spec if isinstance(docs[0], Route) else None
    assert spec is not None and spec.deprecated
    assert spec.deprecation is not None and spec.deprecation.sunset == datetime(2026, 6, 30, tzinfo=UTC)
    assert "sunset cannot come before" in issues("  deprecation: {date: 2026-06-01, sunset: 2026-01-01}")[0]
    assert "spec.deprecation.link" in issues("  deprecation: {link: 'javascript:alert(1)'}")[0]


def test_version_names_are_tokens() -> None:
    assert issues("  version: {name: v2, default: true}") == []
    assert "spec.version.name" in issues("  version: {name: 'v 2'}")[0]


def test_aggregate_fan_out_is_capped() -> None:
    parts = ", ".join(f"p{i}: {{mock: {{json: {{}}}}}}" for i in range(3))
    text = ROUTE.format(method="GET", extra="").replace(
        "upstream: {mock: {json: {}}}", f"upstream: {{aggregate: {{maxParts: 2, parts: {{{parts}}}}}}}"
    )
    _, found = parse_documents(text)
    assert "3 parts exceed maxParts 2" in str(found[0])
