"""The schemas of one OpenAPI 3.1 operation: its parameters (path, query, header) and its JSON request body.

Parameters become one object schema per location, so a request is checked in one pass per part. Schemas that
`$ref` the document's components keep working: the components are carried along under the schema's root, where
the local reference `#/components/schemas/X` resolves as a JSON Pointer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_LOCATIONS = {"path": "path", "query": "query", "header": "headers"}
_MAX_REF_HOPS = 16


class OpenApiError(ValueError):
    """The document is not OpenAPI 3.1, or the operation or one of its parts cannot be read."""


@dataclass(frozen=True, slots=True)
class OperationSchemas:
    path: dict[str, Any] | None = None
    query: dict[str, Any] | None = None
    headers: dict[str, Any] | None = None
    body: dict[str, Any] | None = None
    body_required: bool = False
    response: dict[str, Any] | None = None

    def items(self) -> list[tuple[str, dict[str, Any]]]:
        parts = (("path", self.path), ("query", self.query), ("headers", self.headers), ("body", self.body))
        return [(name, schema) for name, schema in (*parts, ("response", self.response)) if schema is not None]


def _resolve(document: dict[str, Any], node: Any) -> Any:
    """Follow a local `$ref` (parameters, request bodies, responses); schema refs are left to the validator."""
    for _ in range(_MAX_REF_HOPS):
        if not (isinstance(node, dict) and isinstance(node.get("$ref"), str)):
            return node
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise OpenApiError(f"only local references are followed, not {ref!r}")
        target: Any = document
        for part in ref[2:].split("/"):
            key = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or key not in target:
                raise OpenApiError(f"{ref} does not resolve")
            target = target[key]
        node = target
    raise OpenApiError("references nest too deep (a cycle?)")


def _find(document: dict[str, Any], operation_id: str) -> tuple[dict[str, Any], list[Any]]:
    paths = document.get("paths")
    if not isinstance(paths, dict):
        raise OpenApiError("the document has no paths")
    for item in paths.values():
        item = _resolve(document, item)
        if not isinstance(item, dict):
            continue
        for method in _METHODS:
            op = item.get(method)
            if isinstance(op, dict) and op.get("operationId") == operation_id:
                shared = item.get("parameters") or []
                return op, list(shared) if isinstance(shared, list) else []
    raise OpenApiError(f"no operation has operationId {operation_id!r}")


def _with_components(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    components = document.get("components")
    if isinstance(components, dict) and "#/components/" in repr(schema):
        return {**schema, "components": components}
    return schema


def _parameters(document: dict[str, Any], shared: list[Any], own: list[Any]) -> dict[str, dict[str, Any]]:
    by_key: dict[tuple[str, str], dict[str, Any]] = {}
    for raw in [*shared, *own]:  # the operation's own parameter overrides the path item's of the same name
        param = _resolve(document, raw)
        if not isinstance(param, dict) or not isinstance(param.get("name"), str) or param.get("in") not in _LOCATIONS:
            if isinstance(param, dict) and param.get("in") == "cookie":
                continue
            raise OpenApiError(f"a parameter without a name or a known `in`: {str(param)[:80]}")
        name = param["name"].lower() if param["in"] == "header" else param["name"]
        by_key[(param["in"], name)] = param
    out: dict[str, dict[str, Any]] = {}
    for (where, name), param in by_key.items():
        part = out.setdefault(_LOCATIONS[where], {"type": "object", "properties": {}, "required": []})
        schema = param.get("schema", {})
        if not isinstance(schema, dict | bool):
            raise OpenApiError(f"parameter {name!r}: schema must be an object")
        part["properties"][name] = schema
        if param.get("required") or where == "path":
            part["required"].append(name)
    return {where: _with_components(document, schema) for where, schema in out.items()}


def _json_schema(document: dict[str, Any], holder: Any) -> dict[str, Any] | None:
    holder = _resolve(document, holder)
    content = holder.get("content") if isinstance(holder, dict) else None
    if not isinstance(content, dict):
        return None
    for media, entry in content.items():
        if media == "application/json" or media.endswith("+json"):
            schema = entry.get("schema") if isinstance(entry, dict) else None
            if isinstance(schema, dict):
                return _with_components(document, schema)
    return None


def operation_schemas(document: dict[str, Any], operation_id: str) -> OperationSchemas:
    version = document.get("openapi")
    if not (isinstance(version, str) and version.startswith("3.1")):
        raise OpenApiError(f"openapi is {version!r}: OpenAPI 3.1 documents are read (their schemas are JSON Schema)")
    op, shared = _find(document, operation_id)
    params = _parameters(document, shared, op.get("parameters") or [])
    body_holder = _resolve(document, op.get("requestBody"))
    body = _json_schema(document, body_holder) if body_holder is not None else None
    raw_responses = op.get("responses")
    responses: dict[str, Any] = raw_responses if isinstance(raw_responses, dict) else {}
    success = sorted(code for code in responses if str(code).startswith("2"))
    response = _json_schema(document, responses[success[0]]) if success else None
    return OperationSchemas(
        path=params.get("path"),
        query=params.get("query"),
        headers=params.get("headers"),
        body=body,
        body_required=bool(isinstance(body_holder, dict) and body_holder.get("required")),
        response=response,
    )
