"""The generated OpenAPI document (and so the portal) carries each route's validation schemas, and stays valid 3.1;
a route can take its schemas from an operation of the user's own OpenAPI 3.1 document."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import yaml
from openapi_spec_validator import validate

from portico.adapters.config_files import with_file_reader
from portico.core.config.configset import ConfigSet
from portico.core.config.context import ValidationSettings
from portico.core.config.loader import parse_documents
from portico.core.portal.openapi import openapi_document
from tests.unit.protect.kit import ORDER_SCHEMA, CountingUpstream, pipeline, send

USER_API = {
    "openapi": "3.1.0",
    "info": {"title": "orders", "version": "1"},
    "paths": {
        "/orders/{orderId}": {
            "parameters": [{"name": "orderId", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "put": {
                "operationId": "putOrder",
                "parameters": [{"name": "X-Tenant", "in": "header", "required": True, "schema": {"enum": ["a", "b"]}}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Order"}}},
                },
                "responses": {
                    "200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}
                },
            },
        }
    },
    "components": {"schemas": {"Order": ORDER_SCHEMA}},
}
CONFIG = f"""
apiVersion: portico/v1
kind: Route
metadata: {{name: create}}
spec:
  match: {{path: "/orders", methods: [POST]}}
  auth: {{none: {{}}}}
  upstream: {{mock: {{status: 201}}}}
  validate:
    query:
      schema: {{type: object, required: [region], properties: {{region: {{enum: [eu, us]}}, dry: {{type: boolean}}}}}}
    body: {{schema: {json.dumps(ORDER_SCHEMA)}}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: put}}
spec:
  match: {{path: "/orders/{{orderId}}", methods: [PUT]}}
  auth: {{none: {{}}}}
  upstream: {{mock: {{status: 200}}}}
  validate: {{openapi: {{file: api.yaml, operationId: putOrder}}}}
"""


def _config(tmp_path: Path) -> ConfigSet:
    (tmp_path / "api.yaml").write_text(yaml.safe_dump(USER_API))
    settings = with_file_reader(ValidationSettings(), tmp_path / "routes.yaml")
    docs, issues = parse_documents(CONFIG, file="routes.yaml", settings=settings)
    assert not issues, issues
    return ConfigSet.of(docs)


def test_document_carries_the_schemas_and_is_valid_openapi(tmp_path: Path) -> None:
    document = openapi_document(_config(tmp_path))
    validate(document)  # type: ignore[arg-type]
    post = document["paths"]["/orders"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == ORDER_SCHEMA
    assert {"name": "region", "in": "query", "required": True, "schema": {"enum": ["eu", "us"]}} in post["parameters"]
    assert "400" in post["responses"]
    put = document["paths"]["/orders/{orderId}"]["put"]
    assert put["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Order"}
    assert document["components"]["schemas"]["Order"] == ORDER_SCHEMA
    path_param = next(p for p in put["parameters"] if p["in"] == "path")
    assert path_param["schema"] == {"type": "integer"}
    assert any(p["in"] == "header" and p["name"] == "x-tenant" for p in put["parameters"])


def test_openapi_operation_is_enforced(tmp_path: Path) -> None:
    config = _config(tmp_path)
    from portico.core.config.documents import to_mapping

    text = "\n---\n".join(yaml.safe_dump(to_mapping(r)) for r in config.routes.values())
    handler = pipeline(text, CountingUpstream())

    def put(path: str, tenant: str, body: Any) -> int:
        headers = [("content-type", "application/json"), ("x-tenant", tenant)]
        return asyncio.run(send(handler, "PUT", path, headers=headers, body=json.dumps(body).encode())).status

    good = {"name": "tea", "quantity": 1}
    assert put("/orders/5", "a", good) == 200
    assert put("/orders/five", "a", good) == 400
    assert put("/orders/5", "c", good) == 400
    assert put("/orders/5", "a", {"name": "tea"}) == 400  # the $ref'd component is enforced


def test_portico_validate_refuses_an_invalid_schema(tmp_path: Path) -> None:
    """Through the CLI: the file, the document, the field path and the schema pointer are named; exit code 1."""
    from typer.testing import CliRunner

    from portico.cli.main import app

    (tmp_path / "api.yaml").write_text(yaml.safe_dump(USER_API))
    bad = tmp_path / "routes.yaml"
    bad.write_text(CONFIG.replace("dry: {{type: boolean}}".replace("{{", "{").replace("}}", "}"), "dry: {type: bool}"))
    result = CliRunner().invoke(app, ["validate", "-f", str(bad)])
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "document 1: spec.validate.query" in text and "/properties/dry/type" in text
    good = tmp_path / "good.yaml"
    good.write_text(CONFIG)
    assert CliRunner().invoke(app, ["validate", "-f", str(good)]).exit_code == 0
