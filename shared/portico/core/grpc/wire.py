"""gRPC over HTTP/2 as a proxy sees it: grpc-timeout, grpc-status, and local replies in gRPC's own terms.

A reply the mesh makes itself (denied, no upstream, fault, overload) reaches a gRPC client as a trailers-only
response: HTTP 200, `content-type: application/grpc`, `grpc-status` and `grpc-message`, as Envoy's local replies
for gRPC requests do. The HTTP status maps to a gRPC code as in gRPC's "HTTP to gRPC Status Code Mapping"
(doc/http-grpc-status-mapping.md); a reply that names its gRPC status in a `grpc-status` field keeps it.
"""

from __future__ import annotations

from urllib.parse import quote

from portico.core.headers import Headers
from portico.core.http import Request, Response
from portico.core.untrusted import load_json

# gRPC's HTTP-to-gRPC mapping; any other status is UNKNOWN (2)
_FROM_HTTP = {400: 13, 401: 16, 403: 7, 404: 12, 429: 14, 502: 14, 503: 14, 504: 14}
_UNITS = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}
GRPC_DEADLINE_EXCEEDED = 4
GRPC_UNAVAILABLE = 14
GRPC_CANCELLED = 1


def is_grpc(request: Request) -> bool:
    ctype = request.headers.get("content-type") or ""
    return ctype.startswith("application/grpc")


def grpc_timeout(value: str | None) -> float | None:
    """Seconds from a `grpc-timeout` value (1-8 digits and a unit, gRPC's PROTOCOL-HTTP2.md); None when absent or
    malformed (gRPC servers ignore a malformed one too)."""
    if not value or len(value) > 9:
        return None
    digits, unit = value[:-1], value[-1]
    if not digits.isdigit() or unit not in _UNITS:
        return None
    return int(digits) * _UNITS[unit]


def status_of(headers: Headers) -> int | None:
    """grpc-status as a number, or None when absent or not a number."""
    raw = headers.get("grpc-status")
    if raw is None or not raw.strip().isdigit():
        return None
    return int(raw)


def code_for(status: int) -> int:
    return 0 if status == 200 else _FROM_HTTP.get(status, 2)


def local_reply(resp: Response) -> Response:
    """`resp` (the mesh's own answer to a gRPC request) as a trailers-only gRPC response."""
    code = status_of(resp.headers)
    if code is None:
        code = code_for(resp.status)
    headers = Headers([("content-type", "application/grpc"), ("grpc-status", str(code))])
    message = _detail(resp)
    if message and code != 0:
        headers.add("grpc-message", quote(message, safe=" !\"#$&'()*+,-./:;<=>?@[\\]^_`{|}~"))
    for name, value in resp.headers:
        if name.startswith("x-portico-") or name == "x-request-id":
            headers.add(name, value)
    return Response(200, headers)


def _detail(resp: Response) -> str:
    """The problem+json `detail` (or `title`) of a local reply, bounded; empty for other bodies."""
    if not resp.body or not (resp.content_type or "").startswith("application/problem+json"):
        return ""
    try:
        doc = load_json(resp.body, what="a local reply", max_bytes=64 * 1024)
    except ValueError:
        return ""
    text = doc.get("detail") or doc.get("title") or "" if isinstance(doc, dict) else ""
    return str(text)[:512]
