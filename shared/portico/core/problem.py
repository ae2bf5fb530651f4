"""RFC 9457 problem details: the one error body every Portico component answers with."""

from __future__ import annotations

import json
from typing import Any

from portico.core.headers import Headers
from portico.core.http import Response

PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Content Too Large",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    501: "Not Implemented",
    504: "Gateway Timeout",
}


def problem(
    status: int,
    detail: str,
    *,
    request_id: str | None = None,
    type_: str = "about:blank",
    title: str | None = None,
    headers: Headers | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    """Build a problem+json response. `detail` is for humans and must never carry a stack trace."""
    body: dict[str, Any] = {
        "type": type_,
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if request_id:
        body["requestId"] = request_id
    if extra:
        body.update(extra)
    out = headers.copy() if headers is not None else Headers()
    out.set("content-type", PROBLEM_JSON)
    return Response(status=status, headers=out, body=json.dumps(body, separators=(",", ":")).encode())
