"""Checks one request against a route's compiled schemas: path parameters, query, headers, then the JSON body.

Path, query and header values are strings on the wire. Each is converted to the type its schema property names
(integer, number, boolean; an array for a query parameter), as OpenAPI's parameter serialisation does, so a
schema says `type: integer` and `?limit=ten` fails it at `/limit`. A value that does not convert stays a string
and fails the type check with its pointer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote

from portico.core.config.protection import Validation
from portico.core.headers import Headers
from portico.core.untrusted import UntrustedInputError, load_json
from portico.core.validation.openapi import operation_schemas
from portico.core.validation.schemas import CompiledSchema, Violation


def _types(schema: Any) -> set[str]:
    if not isinstance(schema, dict):
        return set()
    kind = schema.get("type")
    if isinstance(kind, str):
        return {kind}
    return {t for t in kind if isinstance(t, str)} if isinstance(kind, list) else set()


def _scalar(text: str, types: set[str]) -> Any:
    if "integer" in types:
        try:
            return int(text, 10)
        except ValueError:
            pass
    if "number" in types:
        try:
            number = float(text)
            if number == number and number not in (float("inf"), float("-inf")):
                return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
        except ValueError:
            pass
    if "boolean" in types and text in ("true", "false"):
        return text == "true"
    return text


class _ObjectPart:
    """An object schema over string values (path, query or headers), with the per-property conversions."""

    def __init__(self, schema: dict[str, Any], where: str) -> None:
        self.where = where
        self.compiled = CompiledSchema(schema)
        props = schema.get("properties") if isinstance(schema, dict) else None
        self._props: dict[str, Any] = props if isinstance(props, dict) else {}

    def instance(self, pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
        grouped: dict[str, list[str]] = {}
        for name, value in pairs:
            grouped.setdefault(name, []).append(value)
        out: dict[str, Any] = {}
        for name, values in grouped.items():
            schema = self._props.get(name)
            types = _types(schema)
            if "array" in types:
                items = schema.get("items") if isinstance(schema, dict) else None
                out[name] = [_scalar(v, _types(items)) for v in values]
            elif len(values) > 1 and self.where == "query":
                out[name] = [_scalar(v, types) for v in values]  # repeated but not an array: the type check says so
            else:
                out[name] = _scalar(values[-1], types)
        return out

    def check(self, pairs: Sequence[tuple[str, str]]) -> list[Violation]:
        return self.compiled.errors(self.instance(pairs), self.where)


def is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class RequestValidator:
    """The compiled schemas of one route; built once per config version by the validation filter."""

    def __init__(self, spec: Validation) -> None:
        self.max_depth = spec.max_depth
        parts: dict[str, Any] = {}
        body_required = spec.body is not None
        if spec.openapi is not None and spec.openapi.document is not None:
            op = operation_schemas(spec.openapi.document, spec.openapi.operation_id)
            parts = {"path": op.path, "query": op.query, "headers": op.headers, "body": op.body}
            body_required = op.body_required
            response = op.response
        else:
            for name in ("path", "query", "headers", "body"):
                source = getattr(spec, name)
                parts[name] = source.schema_ if source is not None else None
            response = None
        if spec.response is not None:
            response = spec.response.schema_
        self._path = _ObjectPart(parts["path"], "path") if parts["path"] is not None else None
        self._query = _ObjectPart(parts["query"], "query") if parts["query"] is not None else None
        self._headers = _ObjectPart(parts["headers"], "header") if parts["headers"] is not None else None
        self._body = CompiledSchema(parts["body"]) if parts["body"] is not None else None
        self._body_required = body_required
        self.response = CompiledSchema(response) if response is not None else None

    def check(
        self,
        path_params: Mapping[str, str],
        query: Sequence[tuple[str, str]],
        headers: Headers | Sequence[tuple[str, str]],
        body: bytes,
    ) -> list[Violation]:
        headers = headers if isinstance(headers, Headers) else Headers(headers)
        found: list[Violation] = []
        if self._path is not None:
            found += self._path.check([(k, unquote(v)) for k, v in path_params.items()])
        if self._query is not None:
            found += self._query.check(query)
        if self._headers is not None:
            found += self._headers.check(list(headers))
        if self._body is not None:
            found += self._check_body(headers.get("content-type"), body)
        return found

    def _check_body(self, content_type: str | None, body: bytes) -> list[Violation]:
        if not body:
            return [Violation("body", "", "a JSON body is required")] if self._body_required else []
        if not is_json(content_type):
            return [Violation("header", "/content-type", "must be application/json (or a +json type)")]
        document = self.parse(body)
        if isinstance(document, Violation):
            return [document]
        assert self._body is not None
        return self._body.errors(document, "body")

    def parse(self, body: bytes) -> Any:
        """The body as JSON, bounded in depth; a Violation (at the root) when it is not acceptable JSON."""
        try:
            return load_json(body, what="the body", max_depth=self.max_depth)
        except UntrustedInputError as exc:
            return Violation("body", "", str(exc))
