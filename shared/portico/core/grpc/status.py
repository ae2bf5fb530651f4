"""gRPC status codes, their HTTP statuses (google.rpc.Code's published mapping) and the problem+json they become."""

from __future__ import annotations

from portico.core.http import Response
from portico.core.problem import problem

# google.rpc.Code: (number, name, HTTP status), as grpc-gateway and Envoy's transcoder map them.
_CODES: tuple[tuple[int, str, int], ...] = (
    (0, "OK", 200),
    (1, "CANCELLED", 499),
    (2, "UNKNOWN", 500),
    (3, "INVALID_ARGUMENT", 400),
    (4, "DEADLINE_EXCEEDED", 504),
    (5, "NOT_FOUND", 404),
    (6, "ALREADY_EXISTS", 409),
    (7, "PERMISSION_DENIED", 403),
    (8, "RESOURCE_EXHAUSTED", 429),
    (9, "FAILED_PRECONDITION", 400),
    (10, "ABORTED", 409),
    (11, "OUT_OF_RANGE", 400),
    (12, "UNIMPLEMENTED", 501),
    (13, "INTERNAL", 500),
    (14, "UNAVAILABLE", 503),
    (15, "DATA_LOSS", 500),
    (16, "UNAUTHENTICATED", 401),
)
CODE_NAMES: dict[int, str] = {number: name for number, name, _ in _CODES}
HTTP_STATUS: dict[int, int] = {number: http for number, _, http in _CODES}

# Codes whose message is written for the caller. The others (UNKNOWN, INTERNAL, DATA_LOSS, UNAVAILABLE,
# DEADLINE_EXCEEDED, CANCELLED) usually carry exception text or the client library's connection diagnostics
# (addresses, resolver errors), so the caller gets a fixed description instead and the original is logged.
_CALLER_FACING = frozenset({3, 5, 6, 7, 8, 9, 10, 11, 12, 16})
_GENERIC = {
    1: "the upstream call was cancelled",
    2: "the upstream service failed",
    4: "the upstream service did not answer in time",
    13: "the upstream service failed",
    14: "the upstream service is unavailable",
    15: "the upstream service failed",
}
MAX_MESSAGE = 512
_TITLES = {499: "Client Closed Request", 409: "Conflict", 501: "Not Implemented"}


class GrpcCallError(Exception):
    """A call that ended with a non-OK status; raised by the gRPC adapter, turned into problem+json by dispatch."""

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{CODE_NAMES.get(self.code, str(self.code))}: {self.message}"


class ReplyTooLarge(Exception):
    """The reply (all messages of a stream together) is larger than the route's maxResponseBytes."""


def http_status(code: int) -> int:
    """The HTTP status for a gRPC code; codes outside google.rpc.Code are UNKNOWN, hence 500."""
    return HTTP_STATUS.get(code, 500)


def caller_message(code: int, message: str) -> str:
    """What the caller may read: the server's own words for caller-facing codes, first line only and bounded."""
    if code not in _CALLER_FACING:
        return _GENERIC.get(code, "the upstream service failed")
    first = message.strip().splitlines()[0] if message.strip() else ""
    if first.startswith("Traceback ") or "Exception calling application" in first:
        return "the upstream service rejected the request"
    clean = "".join(ch for ch in first if ch.isprintable())
    return clean[:MAX_MESSAGE] if clean else CODE_NAMES[code].replace("_", " ").lower()


def status_problem(error: GrpcCallError, *, request_id: str | None = None) -> Response:
    """problem+json for a failed call: the mapped HTTP status, plus grpcStatus (name), grpcCode and grpcMessage."""
    status = http_status(error.code)
    name = CODE_NAMES.get(error.code, "UNKNOWN")
    text = caller_message(error.code, error.message)
    return problem(
        status,
        f"upstream gRPC status {name}: {text}",
        request_id=request_id,
        title=_TITLES.get(status),
        extra={"grpcStatus": name, "grpcCode": error.code, "grpcMessage": text},
    )
