"""RFC 9457 problem details: the one error body every Portico component answers with."""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii
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


class CannedProblem:
    """A problem whose body is fixed but for the request id, encoded once when the filter is built.

    For refusals on the hot path (an IP rule), where json.dumps of the same document per request would cost more
    than the decision itself. The bytes are exactly what `problem()` writes for the same arguments.
    """

    __slots__ = ("_head", "_plain", "status")

    def __init__(self, status: int, detail: str) -> None:
        self.status = status
        self._plain = problem(status, detail).body  # no request id: `{...,"detail":"..."}`
        self._head = self._plain[:-1] + b',"requestId":'

    def response(self, request_id: str | None = None) -> Response:
        # json.dumps(str) without its argument handling: the same escaping (ASCII, as problem() writes)
        body = self._head + encode_basestring_ascii(request_id).encode() + b"}" if request_id else self._plain
        return Response(status=self.status, headers=Headers.lowered([("content-type", PROBLEM_JSON)]), body=body)
