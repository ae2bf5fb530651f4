"""Pure pieces of the HTTP/2 path: which version a connection speaks, grpc-timeout, local replies, grpcStatus."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from portico.core.config.istio_networking import Abort, HTTPFaultInjection
from portico.core.grpc.wire import grpc_timeout, local_reply
from portico.core.headers import Headers
from portico.core.mesh.fault import decide
from portico.core.mesh.sniff import PREFACE, speaks
from portico.core.problem import problem


def test_alpn_decides_and_else_the_preface_does() -> None:
    assert speaks("h2", b"") == "h2" and speaks("http/1.1", PREFACE) == "http/1.1"
    assert speaks(None, PREFACE + b"\x00\x00") == "h2"
    assert speaks(None, PREFACE[:10]) is None  # wait for more bytes
    assert speaks(None, b"GET / HTTP/1.1\r\n") == "http/1.1"
    assert speaks(None, b"PRX") == "http/1.1"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("200m", 0.2), ("1S", 1.0), ("2M", 120.0), ("1H", 3600.0), ("5000u", 0.005), ("99999999n", 0.099999999)],
)
def test_grpc_timeout_units(value: str, seconds: float) -> None:
    assert grpc_timeout(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", [None, "", "S", "10", "1x", "123456789S", "-1S", "1.5S"])
def test_malformed_grpc_timeout_is_ignored(value: str | None) -> None:
    assert grpc_timeout(value) is None


@pytest.mark.parametrize(
    ("status", "code"), [(403, "7"), (401, "16"), (404, "12"), (503, "14"), (504, "14"), (500, "2")]
)
def test_local_replies_become_trailers_only_grpc(status: int, code: str) -> None:
    reply = local_reply(problem(status, "RBAC: access denied"))
    assert reply.status == 200 and reply.body == b""
    assert reply.headers.get("content-type") == "application/grpc"
    assert reply.headers.get("grpc-status") == code
    assert reply.headers.get("grpc-message") == "RBAC: access denied"


def test_a_reply_naming_its_grpc_status_keeps_it() -> None:
    reply = local_reply(problem(504, "late", headers=Headers([("grpc-status", "4")])))
    assert reply.headers.get("grpc-status") == "4"


def test_grpc_message_is_percent_encoded() -> None:
    reply = local_reply(problem(403, "no\r\nway ü"))
    assert reply.headers.get("grpc-message") == "no%0D%0Away %C3%BC"


def test_fault_abort_by_grpc_status() -> None:
    fault = HTTPFaultInjection(abort=Abort.model_validate({"grpcStatus": "UNAVAILABLE"}))
    decision = decide(fault, random.Random(1))
    assert decision.abort_grpc == 14 and decision.abort_status == 503


@pytest.mark.parametrize(
    "spec",
    [{"grpcStatus": "14"}, {"grpcStatus": "unavailable"}, {}, {"httpStatus": 503, "grpcStatus": "UNAVAILABLE"}],
)
def test_abort_needs_exactly_one_known_status(spec: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Abort.model_validate(spec)
