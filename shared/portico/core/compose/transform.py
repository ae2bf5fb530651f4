"""Request and response transforms, compiled once per route: headers, query, path, and JSON bodies via JMESPath."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote, urlencode

import jmespath

from portico.core.compose.merge import allow_fields
from portico.core.config.compose import HeaderEdits, RequestTransform, ResponseHeaderEdits, ResponseTransform
from portico.core.headers import Headers
from portico.core.http import Request, Response
from portico.core.regex import UserRegex
from portico.core.untrusted import UntrustedInputError, load_json

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class TransformError(Exception):
    """The request cannot be transformed as configured; `status` is the client-facing answer (400, 415, 502)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _edit_headers(headers: Headers, edits: HeaderEdits) -> None:
    for name in edits.remove:
        headers.remove(name)
    for name, value in edits.set.items():
        headers.set(name, value)
    for name, value in edits.add.items():
        headers.add(name, value)


def _dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


class RequestTransformer:
    def __init__(self, spec: RequestTransform) -> None:
        self._spec = spec
        path = spec.path
        self._template = path.template if path is not None else None
        self._regex = UserRegex(path.regex) if path is not None and path.regex is not None else None
        self._substitution = (path.substitution or "") if path is not None else ""
        self._body = jmespath.compile(spec.body.jmespath) if spec.body is not None else None

    def apply(self, request: Request, params: dict[str, str]) -> None:
        """Edit the request in place for its upstream; raises TransformError for a body it cannot map."""
        spec = self._spec
        if spec.headers is not None:
            _edit_headers(request.headers, spec.headers)
        if spec.query is not None and (spec.query.set or spec.query.remove):
            dropped = set(spec.query.remove) | set(spec.query.set)
            query = [(k, v) for k, v in request.query if k not in dropped]
            query += list(spec.query.set.items())
            request.query = query
            request.raw_query = urlencode(query, quote_via=quote)
        if self._template is not None:
            request.normalized_path = _PLACEHOLDER.sub(lambda m: params.get(m.group(1), ""), self._template)
        elif self._regex is not None:
            rewritten = self._regex.sub(self._substitution, request.route_path)
            request.normalized_path = rewritten if rewritten.startswith("/") else "/" + rewritten
        if self._body is not None and request.body:
            if not is_json(request.headers.get("content-type")):
                raise TransformError(415, "this route takes a JSON body (Content-Type: application/json)")
            try:
                document = load_json(request.body, what="the request body")
            except UntrustedInputError as exc:
                raise TransformError(400, str(exc)) from None
            request.body = _dump(self._body.search(document))


class ResponseTransformer:
    def __init__(self, spec: ResponseTransform) -> None:
        self._headers: ResponseHeaderEdits | None = spec.headers
        body = spec.body
        self._expr = jmespath.compile(body.jmespath) if body is not None and body.jmespath else None
        self._select = body.select if body is not None else None
        self._rename = dict(body.rename) if body is not None else {}
        self._edits_body = body is not None and (self._expr is not None or self._select is not None or self._rename)

    def apply(self, response: Response) -> Response:
        """Header edits apply to every answer; body edits to 2xx JSON answers only, so problem details stay intact."""
        if self._headers is not None:
            self._apply_headers(response.headers, self._headers)
        if self._edits_body and 200 <= response.status < 300 and response.body:
            if not is_json(response.content_type):
                # An allowlist that cannot be applied must not let the unfiltered body through.
                raise TransformError(502, "the upstream answer is not JSON, so the configured body transform fails")
            try:
                document = load_json(response.body, what="the upstream answer")
            except UntrustedInputError as exc:
                raise TransformError(502, str(exc)) from None
            response.body = _dump(self.body(document))
        return response

    def body(self, document: Any) -> Any:
        if self._expr is not None:
            document = self._expr.search(document)
        document = allow_fields(document, self._select)
        if self._rename and isinstance(document, dict):
            document = {self._rename.get(k, k): v for k, v in document.items()}
        return document

    @staticmethod
    def _apply_headers(headers: Headers, edits: ResponseHeaderEdits) -> None:
        if edits.select is not None:
            keep = set(edits.select) | {"content-type"}
            for name in headers.names() - keep:
                headers.remove(name)
        for old, new in edits.rename.items():
            values = headers.get_all(old)
            headers.remove(old)
            for value in values:
                headers.add(new, value)
        _edit_headers(headers, edits)
