"""gRPC status -> HTTP status per google.rpc.Code, and problem+json that never leaks internals."""

from __future__ import annotations

import json

import pytest

from portico.core.grpc.status import CODE_NAMES, GrpcCallError, caller_message, http_status, status_problem

PUBLISHED = {
    "OK": 200,
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "UNAUTHENTICATED": 401,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
}


def test_every_code_maps_as_published() -> None:
    by_name = {name: number for number, name in CODE_NAMES.items()}
    assert set(by_name) == set(PUBLISHED)
    assert {name: http_status(by_name[name]) for name in PUBLISHED} == PUBLISHED
    assert http_status(99) == 500  # outside google.rpc.Code: treated as UNKNOWN


def test_problem_carries_status_and_message() -> None:
    response = status_problem(GrpcCallError(5, "book 9 not found"), request_id="r1")
    body = json.loads(response.body)
    assert response.status == 404 and response.headers.get("content-type") == "application/problem+json"
    assert body["grpcStatus"] == "NOT_FOUND" and body["grpcCode"] == 5
    assert body["grpcMessage"] == "book 9 not found" and body["requestId"] == "r1"


@pytest.mark.parametrize("code", [2, 13, 15, 14, 4, 1])
def test_server_fault_messages_are_replaced(code: int) -> None:
    leaked = 'Exception calling application: boom\nTraceback (most recent call last):\n  File "/srv/app.py"'
    text = caller_message(code, leaked)
    assert "Traceback" not in text and "/srv/app.py" not in text and "boom" not in text


def test_caller_facing_messages_are_one_bounded_printable_line() -> None:
    text = caller_message(3, "bad \x1b[31mfield\x1b[0m " + "x" * 2000 + "\nsecond line")
    assert "\n" not in text and "\x1b" not in text and len(text) <= 512 and text.startswith("bad ")
    assert "Traceback" not in caller_message(3, "Traceback (most recent call last):\n  File ...")
