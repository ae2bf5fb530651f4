"""The mock upstream: a static response from config, built once per route."""

from __future__ import annotations

import json

from portico.core.config.upstream import MockUpstream
from portico.core.headers import Headers
from portico.core.http import Response


def mock_response(spec: MockUpstream) -> Response:
    headers = Headers(spec.headers.items())
    if spec.json_body is not None:
        body = json.dumps(spec.json_body, separators=(",", ":")).encode()
        if "content-type" not in headers:
            headers.set("content-type", "application/json")
    else:
        body = (spec.body or "").encode()
        if body and "content-type" not in headers:
            headers.set("content-type", "text/plain; charset=utf-8")
    return Response(status=spec.status, headers=headers, body=body)


def copy_of(response: Response) -> Response:
    """A fresh copy per request, so later filters may edit headers without touching the template."""
    return Response(response.status, response.headers.copy(), response.body, list(response.cookies))
