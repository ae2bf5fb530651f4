"""Request validation through the real edge chain: each refusal is a 400 naming the pointer; the upstream sees none."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from portico.core.config.context import ValidationSettings
from portico.core.config.loader import parse_documents
from tests.unit.protect.kit import ORDER_SCHEMA as SCHEMA
from tests.unit.protect.kit import CountingUpstream, pipeline, send

CONFIG = f"""
apiVersion: portico/v1
kind: Route
metadata: {{name: orders}}
spec:
  match: {{path: "/orders/{{orderId}}", methods: [POST]}}
  auth: {{none: {{}}}}
  upstream: {{http: {{url: "http://127.0.0.1:9/orders/{{orderId}}"}}}}
  validate:
    path: {{schema: {{type: object, properties: {{orderId: {{type: integer, minimum: 1}}}}}}}}
    query: {{schema: {{type: object, properties: {{dryRun: {{type: boolean}}}}, additionalProperties: false}}}}
    body: {{schema: {json.dumps(SCHEMA)}}}
    maxDepth: 8
"""
GOOD = {"name": "tea", "quantity": 2, "colour": "red"}
JSON = [("content-type", "application/json")]


def _post(path: str = "/orders/7", body: Any = GOOD, **kw: Any) -> tuple[Any, CountingUpstream]:
    upstream = CountingUpstream()
    handler = pipeline(CONFIG, upstream)
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = kw.pop("headers", JSON)
    response = asyncio.run(send(handler, "POST", path, body=raw, headers=headers, **kw))
    return response, upstream


CASES = [
    ("wrong type", {"body": {**GOOD, "quantity": "two"}}, ("body", "/quantity")),
    ("missing required", {"body": {"name": "tea"}}, ("body", "/quantity")),
    ("extra field", {"body": {**GOOD, "admin": True}}, ("body", "/admin")),
    ("bad enum", {"body": {**GOOD, "colour": "blue"}}, ("body", "/colour")),
    ("oversized string", {"body": {**GOOD, "name": "x" * 5000}}, ("body", "/name")),
    ("malformed JSON", {"body": b'{"name": "tea", '}, ("body", "")),
    ("wrong content type", {"headers": [("content-type", "text/plain")]}, ("header", "/content-type")),
    ("bad path parameter", {"path": "/orders/abc"}, ("path", "/orderId")),
    ("bad query parameter", {"query": [("dryRun", "maybe")]}, ("query", "/dryRun")),
    (
        "deeply nested",
        {"body": b'{"name":"tea","quantity":1,"extra":' + b'{"a":' * 40 + b"1" + b"}" * 41},
        ("body", ""),
    ),
]


@pytest.mark.parametrize(("case", "change", "expected"), CASES, ids=[c[0] for c in CASES])
def test_invalid_request_is_400_naming_the_pointer(
    case: str, change: dict[str, Any], expected: tuple[str, str]
) -> None:
    response, upstream = _post(**change)
    assert response.status == 400, response.body
    assert response.headers.get("content-type") == "application/problem+json"
    errors = json.loads(response.body)["errors"]
    assert {"in": expected[0], "pointer": expected[1]} in [{"in": e["in"], "pointer": e["pointer"]} for e in errors]
    assert upstream.seen == []


def test_oversized_string_is_not_echoed() -> None:
    response, _ = _post(body={**GOOD, "name": "secret-" * 100})
    assert b"secret-" not in response.body


def test_valid_request_passes_with_typed_query_and_path() -> None:
    response, upstream = _post(query=[("dryRun", "true")])
    assert response.status == 200
    assert len(upstream.seen) == 1


def test_every_violation_is_listed() -> None:
    response, _ = _post(path="/orders/0", body={"name": 5, "quantity": 0, "colour": "blue"})
    pointers = {(e["in"], e["pointer"]) for e in json.loads(response.body)["errors"]}
    assert pointers == {("path", "/orderId"), ("body", "/name"), ("body", "/quantity"), ("body", "/colour")}


def test_invalid_schema_is_refused_at_config_time() -> None:
    bad = CONFIG.replace("type: integer, minimum: 1", "type: integr, minimum: 1")
    _, issues = parse_documents(bad, file="bad.yaml", settings=ValidationSettings(allow_loopback=True))
    assert len(issues) == 1
    assert issues[0].path.startswith("spec.validate.path")
    assert "invalid JSON Schema" in issues[0].message and "/properties/orderId/type" in issues[0].message


def test_schema_with_2020_12_keywords_is_enforced() -> None:
    """prefixItems is beyond fastjsonschema: jsonschema runs such a schema, so the keyword is never ignored."""
    config = CONFIG.replace(json.dumps(SCHEMA), json.dumps({"type": "array", "prefixItems": [{"type": "integer"}]}))
    upstream = CountingUpstream()
    handler = pipeline(config, upstream)
    response = asyncio.run(send(handler, "POST", "/orders/1", body=b'["x"]', headers=JSON))
    assert response.status == 400
    assert json.loads(response.body)["errors"][0]["pointer"] == "/0"


def test_schema_patterns_run_on_re2() -> None:
    """A pattern that backtracks exponentially in Python's engine is linear on RE2; lookbehind is refused."""
    from portico.core.validation.schemas import CompiledSchema, SchemaError, check

    schema = {"type": "object", "properties": {"a": {"pattern": "^(a+)+$"}}, "patternProperties": {"^(b+)+$": {}}}
    compiled = CompiledSchema(schema)
    hostile = "a" * 5000 + "!"
    assert [v.pointer for v in compiled.errors({"a": hostile}, "body")] == ["/a"]
    assert compiled.errors({"b" * 5000: 1, "a": "aaa"}, "body") == []
    with pytest.raises(SchemaError, match="RE2"):
        check({"pattern": "(?<=x)y"})


def test_formats_are_asserted_next_to_re2_patterns() -> None:
    from portico.core.validation.schemas import CompiledSchema

    schema = {"properties": {"mail": {"format": "email"}, "id": {"pattern": "^C-[0-9]+$"}}}
    compiled = CompiledSchema(schema)
    assert compiled.errors({"mail": "a@example.com", "id": "C-1"}, "body") == []
    assert [v.pointer for v in compiled.errors({"mail": "not-an-email", "id": "C-1"}, "body")] == ["/mail"]
    assert [v.pointer for v in compiled.errors({"mail": "a@example.com", "id": "X"}, "body")] == ["/id"]


def test_response_validation_only_logs(caplog: pytest.LogCaptureFixture) -> None:
    config = """
apiVersion: portico/v1
kind: Route
metadata: {name: staging}
spec:
  match: {path: /staging}
  auth: {none: {}}
  upstream: {http: {url: "http://127.0.0.1:9/x"}}
  validate: {response: {schema: {type: object, required: [id], properties: {id: {type: integer}}}}}
"""
    upstream = CountingUpstream(body=b'{"id": "not-a-number"}')
    handler = pipeline(config, upstream)
    with caplog.at_level("WARNING", logger="portico.edge.validation"):
        response = asyncio.run(send(handler, "GET", "/staging"))
    assert response.status == 200 and response.body == b'{"id": "not-a-number"}'  # unchanged
    [record] = [r for r in caplog.records if r.name == "portico.edge.validation"]
    assert record.errors == [{"in": "body", "pointer": "/id", "detail": "must be of type integer"}]  # type: ignore[attr-defined]
    upstream.body = b'{"id": 7}'
    caplog.clear()
    with caplog.at_level("WARNING", logger="portico.edge.validation"):
        assert asyncio.run(send(handler, "GET", "/staging")).status == 200
    assert not [r for r in caplog.records if r.name == "portico.edge.validation"]
