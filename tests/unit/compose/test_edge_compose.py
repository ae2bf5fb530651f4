"""Transforms, versions, deprecation and the portal through the real pipeline (in-memory upstreams)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from compose_kit import FakeTransport, body, call, json_reply, pipeline
from openapi_spec_validator import validate

from portico.core.http import Request, Response

CONFIG = """
apiVersion: portico/v1
kind: Route
metadata: {name: orders-v1}
spec:
  match: {methods: [GET], path: "/orders/{orderId}"}
  auth: {none: {}}
  version: {name: v1, default: true}
  deprecation: {date: 2026-01-01, sunset: 2026-12-31, link: "https://docs.example.com/migrate-v2"}
  upstream: {mock: {json: {version: 1}}}
---
apiVersion: portico/v1
kind: Route
metadata: {name: orders-v2}
spec:
  match: {methods: [GET, POST], path: "/orders/{orderId}"}
  auth: {jwt: {issuers: [corp], scopes: ["orders:read"]}}
  rateLimit: standard
  version: {name: v2}
  upstream: {mock: {json: {version: 2}}}
---
apiVersion: portico/v1
kind: Route
metadata: {name: legacy-v2-report}
spec:
  match: {methods: [GET], path: /v2/report}
  auth: {apiKey: {}}
  upstream: {mock: {json: {report: true}}}
---
apiVersion: portico/v1
kind: Route
metadata: {name: create-order}
spec:
  match: {methods: [POST], path: "/shop/{shopId}/orders"}
  auth: {none: {}}
  transform:
    request:
      headers: {set: {x-tenant: acme}, remove: [x-debug]}
      query: {set: {source: edge}, remove: [debug]}
      path: {template: "/internal/shops/{shopId}/orders"}
      body: {jmespath: "{sku: item.sku, qty: item.quantity}"}
    response:
      headers: {rename: {x-internal-id: x-order-id}, remove: [server]}
      body: {select: [id, status], rename: {id: orderId}}
  upstream: {http: {url: "http://orders.test", timeout: 1s}}
---
apiVersion: portico/v1
kind: Route
metadata: {name: files}
spec:
  match: {pathRegex: "/files/[a-z]+\\\\.txt"}
  auth: {none: {}}
  upstream: {mock: {body: file}}
---
apiVersion: portico/v1
kind: Route
metadata: {name: static}
spec:
  match: {pathPrefix: /static}
  auth: {none: {}}
  upstream: {mock: {body: asset}}
---
apiVersion: portico/v1
kind: RateLimitPolicy
metadata: {name: standard}
spec:
  limits: [{requests: 10, window: 1s}, {requests: 1000, window: 1d}]
"""


# Credentials for the protected routes: the edge authenticates them (see docs/auth.md).
CONFIG += f"""---
apiVersion: portico/v1
kind: Issuer
metadata: {{name: corp}}
spec: {{issuer: "https://idp.test/", audiences: [api://orders], algorithms: [HS256], hmacSecret: "{"s" * 32}"}}
---
apiVersion: portico/v1
kind: Consumer
metadata: {{name: reporter}}
spec: {{apiKeys: [{{id: k1, sha256: "{hashlib.sha256(b"report-key").hexdigest()}"}}]}}
"""
REPORT_KEY = [("x-api-key", "report-key")]


def bearer(now: float = 1_000_000.0) -> list[tuple[str, str]]:
    """An HS256 token from Issuer corp with scope orders:read."""
    claims = {"iss": "https://idp.test/", "aud": "api://orders", "exp": now + 300, "scope": "orders:read"}
    head, payload = (_b64(json.dumps(part).encode()) for part in ({"alg": "HS256"}, claims))
    signature = hmac.new(b"s" * 32, f"{head}.{payload}".encode(), hashlib.sha256).digest()
    return [("authorization", f"Bearer {head}.{payload}.{_b64(signature)}")]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def echo(request: Request, url: str) -> Response:
    return json_reply(
        {
            "id": 9,
            "status": "new",
            "internal": "cost-centre-7",
            "url": url,
            "tenant": request.headers.get("x-tenant"),
            "debug": request.headers.get("x-debug"),
            "body": json.loads(request.body),
        },
        x_internal_id="9",
        server="internal",
    )(request, url)


def test_transform_rewrites_path_headers_query_and_maps_bodies() -> None:
    fake = FakeTransport({"/internal/shops/s1/orders": (0.0, echo)})
    answer = call(
        pipeline(CONFIG, fake),
        "POST",
        "/shop/s1/orders?debug=1&page=2",
        headers=[("content-type", "application/json"), ("x-debug", "1")],
        body=json.dumps({"item": {"sku": "A-1", "quantity": 2, "price": 1}}).encode(),
    )
    upstream, url = fake.sent[0]
    assert url == "http://orders.test/internal/shops/s1/orders?page=2&source=edge"
    assert upstream.headers.get("x-tenant") == "acme" and "x-debug" not in upstream.headers
    assert json.loads(upstream.body) == {"sku": "A-1", "qty": 2}
    assert body(answer) == {"orderId": 9, "status": "new"}  # internal fields never reach the client
    assert answer.headers.get("x-order-id") == "9" and "server" not in answer.headers


def test_a_body_the_transform_cannot_map_is_a_client_error() -> None:
    pipe = pipeline(CONFIG, FakeTransport())
    assert call(pipe, "POST", "/shop/s1/orders", body=b"a=1").status == 415
    broken = call(pipe, "POST", "/shop/s1/orders", body=b"{", headers=[("content-type", "application/json")])
    assert broken.status == 400 and body(broken)["detail"].startswith("the request body is not valid JSON")


def test_versions_by_path_prefix_header_and_media_type() -> None:
    pipe = pipeline(CONFIG)
    assert body(call(pipe, "GET", "/orders/1")) == {"version": 1}  # the default version
    assert body(call(pipe, "GET", "/v1/orders/1")) == {"version": 1}
    assert body(call(pipe, "GET", "/v2/orders/1", headers=bearer())) == {"version": 2}
    assert body(call(pipe, "GET", "/orders/1", headers=[("accept-version", "v2"), *bearer()])) == {"version": 2}
    v2_media = [("accept", "application/json; version=v2"), *bearer()]
    assert body(call(pipe, "GET", "/orders/1", headers=v2_media)) == {"version": 2}
    # an unversioned path that starts with v2
    assert body(call(pipe, "GET", "/v2/report", headers=REPORT_KEY)) == {"report": True}
    unknown = call(pipe, "GET", "/orders/1", headers=[("accept-version", "v9")])
    assert unknown.status == 400 and "v1, v2" in body(unknown)["detail"]


def test_deprecated_route_sends_deprecation_sunset_and_link() -> None:
    pipe = pipeline(CONFIG)
    answer = call(pipe, "GET", "/v1/orders/1")
    assert answer.headers.get("deprecation") == "@1767225600"  # 2026-01-01T00:00:00Z, RFC 9745
    assert answer.headers.get("sunset") == "Thu, 31 Dec 2026 00:00:00 GMT"  # RFC 8594 HTTP-date
    assert answer.headers.get("link") == '<https://docs.example.com/migrate-v2>; rel="deprecation"; type="text/html"'
    assert "deprecation" not in call(pipe, "GET", "/v2/orders/1").headers


def test_openapi_document_is_valid_31_and_lists_every_route() -> None:
    answer = call(pipeline(CONFIG), "GET", "/_portico/openapi.json")
    assert answer.status == 200 and answer.content_type == "application/json"
    doc = body(answer)
    validate(doc)  # raises unless the document is valid OpenAPI 3.1
    assert doc["openapi"] == "3.1.0"
    listed = {name for item in doc["paths"].values() for op in item.values() for name in op["x-portico-routes"]}
    listed |= {r["route"] for r in doc.get("x-portico-regex-routes", [])}
    assert listed == {"orders-v1", "orders-v2", "legacy-v2-report", "create-order", "files", "static"}
    v1 = doc["paths"]["/v1/orders/{orderId}"]["get"]
    assert v1["deprecated"] is True and v1["security"] == []
    assert v1["parameters"][0] == {"name": "orderId", "in": "path", "required": True, "schema": {"type": "string"}}
    v2 = doc["paths"]["/v2/orders/{orderId}"]
    assert set(v2) == {"get", "post"} and v2["get"]["security"] == [{"bearerJwt": ["orders:read"]}]
    assert "10 requests per 1s, 1000 requests per 1d" in v2["get"]["description"]
    assert doc["components"]["securitySchemes"]["bearerJwt"]["scheme"] == "bearer"
    assert doc["components"]["securitySchemes"]["apiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": "A consumer's API key.",
    }
    assert "/static/{path}" in doc["paths"]


def test_portal_pages_and_reserved_prefix() -> None:
    pipe = pipeline(CONFIG)
    docs = call(pipe, "GET", "/_portico/docs")
    assert docs.status == 200 and b'src="static/portal.js"' in docs.body
    assert "script-src 'self'" in (docs.headers.get("content-security-policy") or "")
    script = call(pipe, "GET", "/_portico/static/portal.js")
    assert script.status == 200 and script.content_type is not None and "javascript" in script.content_type
    assert call(pipe, "GET", "/_portico/../_portico/nothing").status == 404
    assert call(pipe, "POST", "/_portico/openapi.json").status == 405
    assert call(pipe, "HEAD", "/_portico/openapi.json").body == b""
