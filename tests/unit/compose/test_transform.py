"""Request and response transforms on Portico's own Request/Response."""

from __future__ import annotations

import json

import pytest

from portico.core.compose.transform import RequestTransformer, ResponseTransformer, TransformError
from portico.core.config.compose import RequestTransform, ResponseTransform
from portico.core.headers import Headers
from portico.core.http import Request, Response


def request(body: bytes = b"", ctype: str = "application/json") -> Request:
    return Request(
        "POST",
        "/orders/7",
        query=[("debug", "1"), ("page", "2")],
        headers=Headers([("content-type", ctype), ("x-debug", "1"), ("x-tag", "a")]),
        body=body,
        raw_query="debug=1&page=2",
        normalized_path="/orders/7",
    )


def test_request_headers_query_path_and_body() -> None:
    spec = RequestTransform.model_validate(
        {
            "headers": {"set": {"X-Tenant": "acme"}, "add": {"x-tag": "b"}, "remove": ["x-debug"]},
            "query": {"set": {"format": "json web"}, "remove": ["debug"]},
            "path": {"template": "/api/v2/orders/{orderId}"},
            "body": {"jmespath": "{id: orderId, skus: lines[].sku}"},
        }
    )
    req = request(json.dumps({"orderId": 7, "lines": [{"sku": "a"}, {"sku": "b"}], "internal": 1}).encode())
    RequestTransformer(spec).apply(req, {"orderId": "7"})
    assert req.headers.get("x-tenant") == "acme" and "x-debug" not in req.headers
    assert req.headers.get_all("x-tag") == ["a", "b"]
    assert req.raw_query == "page=2&format=json%20web"
    assert req.route_path == "/api/v2/orders/7"
    assert json.loads(req.body) == {"id": 7, "skus": ["a", "b"]}


def test_regex_path_rewrite() -> None:
    spec = RequestTransform.model_validate({"path": {"regex": "^/orders/(\\d+)$", "substitution": "/legacy/o?id=\\1"}})
    req = request()
    RequestTransformer(spec).apply(req, {})
    assert req.route_path == "/legacy/o?id=7"


def test_body_mapping_errors_are_client_errors() -> None:
    spec = RequestTransform.model_validate({"body": {"jmespath": "a"}})
    with pytest.raises(TransformError) as bad_json:
        RequestTransformer(spec).apply(request(b"{nope"), {})
    assert bad_json.value.status == 400
    with pytest.raises(TransformError) as not_json:
        RequestTransformer(spec).apply(request(b"a=1", "application/x-www-form-urlencoded"), {})
    assert not_json.value.status == 415


def response(body: object, status: int = 200, ctype: str = "application/json") -> Response:
    headers = Headers([("content-type", ctype), ("etag", '"1"'), ("server", "internal/1.2"), ("x-trace", "t")])
    return Response(status, headers, json.dumps(body).encode())


def test_response_headers_and_body_select_and_rename() -> None:
    spec = ResponseTransform.model_validate(
        {
            "headers": {"select": ["etag", "x-trace"], "rename": {"etag": "x-version"}, "set": {"x-api": "v2"}},
            "body": {"select": ["id", "total.amount"], "rename": {"id": "orderId"}},
        }
    )
    out = ResponseTransformer(spec).apply(response({"id": 1, "total": {"amount": 5, "cost": 3}, "secret": "s"}))
    assert json.loads(out.body) == {"orderId": 1, "total": {"amount": 5}}
    assert out.headers.names() == {"content-type", "x-version", "x-trace", "x-api"}


def test_response_body_jmespath_then_select() -> None:
    spec = ResponseTransform.model_validate({"body": {"jmespath": "data", "select": ["id"]}})
    out = ResponseTransformer(spec).apply(response({"data": [{"id": 1, "x": 2}]}))
    assert json.loads(out.body) == [{"id": 1}]


def test_errors_pass_untouched_and_an_unfilterable_body_never_leaks() -> None:
    spec = ResponseTransform.model_validate({"body": {"select": ["id"]}})
    problem = response({"detail": "nope"}, status=404, ctype="application/problem+json")
    assert json.loads(ResponseTransformer(spec).apply(problem).body) == {"detail": "nope"}
    with pytest.raises(TransformError) as exc:
        ResponseTransformer(spec).apply(Response(200, Headers([("content-type", "text/plain")]), b"secret"))
    assert exc.value.status == 502
