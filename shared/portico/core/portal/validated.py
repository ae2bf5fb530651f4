"""A route's request-validation schemas in its OpenAPI operation, so the document and the portal show the contract
the edge enforces: typed path, query and header parameters, the JSON request body, the 2xx response, and the 400.

Schemas taken from an OpenAPI document keep their `$ref`s to `#/components/...`; those components are merged into
the generated document's (a name already there, such as `Problem`, keeps the generated one).
"""

from __future__ import annotations

from typing import Any

from portico.core.config.documents import Route
from portico.core.config.protection import Validation
from portico.core.validation.openapi import operation_schemas

VALIDATION_PROBLEM = {
    "description": "The request does not match the route's schema: `errors` lists each violation with its JSON Pointer",
}


def _parts(spec: Validation) -> tuple[dict[str, Any | None], bool]:
    if spec.openapi is not None and spec.openapi.document is not None:
        op = operation_schemas(spec.openapi.document, spec.openapi.operation_id)
        parts = {"path": op.path, "query": op.query, "headers": op.headers, "body": op.body, "response": op.response}
        if spec.response is not None:
            parts["response"] = spec.response.schema_
        return parts, op.body_required
    found = {name: getattr(spec, name) for name in ("path", "query", "headers", "body", "response")}
    return {name: s.schema_ if s is not None else None for name, s in found.items()}, spec.body is not None


def _strip(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    carried = schema.get("components")
    if not isinstance(carried, dict):
        return schema
    for kind, entries in carried.items():
        if isinstance(entries, dict):
            target = components.setdefault(kind, {})
            for name, value in entries.items():
                target.setdefault(name, value)
    return {k: v for k, v in schema.items() if k != "components"}


def _parameters(schema: dict[str, Any] | None, where: str, components: dict[str, Any]) -> list[dict[str, Any]]:
    if not schema:
        return []
    schema = _strip(schema, components)
    required = set(schema.get("required") or ())
    props = schema.get("properties") or {}
    return [
        {"name": name, "in": where, "required": where == "path" or name in required, "schema": prop}
        for name, prop in props.items()
    ]


def apply_validation(route: Route, op: dict[str, Any], responses: dict[str, Any], components: dict[str, Any]) -> None:
    """Fold the route's `validate` into `op` (parameters, requestBody) and `responses` (2xx schema, 400)."""
    spec = route.spec.validate_
    if spec is None:
        return
    parts, body_required = _parts(spec)
    given = {(p["in"], p["name"]): p for p in op.get("parameters", [])}
    for where, key in (("path", "path"), ("query", "query"), ("header", "headers")):
        for param in _parameters(parts[key], where, components):
            given[(where, param["name"])] = {**given.get((where, param["name"]), {}), **param}
    if given:
        op["parameters"] = list(given.values())
    body = parts["body"]
    if body is not None:
        op["requestBody"] = {
            "required": body_required,
            "content": {"application/json": {"schema": _strip(body, components)}},
        }
    response = parts["response"]
    if response is not None:
        ok = next((code for code in responses if code.startswith("2")), "200")
        content = {"application/json": {"schema": _strip(response, components)}}
        responses[ok] = {**responses.get(ok, {"description": "The upstream's answer"}), "content": content}
    responses["400"] = {
        **VALIDATION_PROBLEM,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
