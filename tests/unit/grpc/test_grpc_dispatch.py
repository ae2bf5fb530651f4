"""The grpc dispatch route with an in-memory caller: what is sent, how replies and failures come back."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from portico.core.chain import Context
from portico.core.config.context import ValidationSettings
from portico.core.config.grpc import GrpcTls, GrpcUpstream
from portico.core.grpc.status import GrpcCallError, ReplyTooLarge
from portico.core.headers import Headers
from portico.core.http import Request, Response
from portico.edge.dispatch.grpc import GrpcRoute


@dataclass
class FakeCaller:
    """Records each call; answers with canned reply bytes or raises a canned error."""

    replies: list[bytes] = field(default_factory=list)
    error: Exception | None = None
    calls: list[tuple[str, bytes, float, list[tuple[str, str]]]] = field(default_factory=list)

    async def unary(
        self,
        target: str,
        tls: GrpcTls,
        method: str,
        request: bytes,
        timeout: float,
        metadata: Sequence[tuple[str, str]],
    ) -> bytes:
        self.calls.append((method, request, timeout, list(metadata)))
        if self.error:
            raise self.error
        return self.replies[0]

    async def server_stream(
        self,
        target: str,
        tls: GrpcTls,
        method: str,
        request: bytes,
        timeout: float,
        metadata: Sequence[tuple[str, str]],
        limit: int,
    ) -> list[bytes]:
        self.calls.append((method, request, timeout, list(metadata)))
        if self.error:
            raise self.error
        return self.replies


def spec(data: bytes, method: str, **extra: object) -> GrpcUpstream:
    raw = {"descriptorSetBytes": base64.b64encode(data).decode(), "service": "portico.demo.v1.Library"}
    raw |= {"method": method, "target": "10.1.2.3:50051", "timeout": "3s", **extra}
    return GrpcUpstream.model_validate(raw, context={"settings": ValidationSettings()})


def run(route: GrpcRoute, method: str, path: str, body: bytes = b"", headers: Headers | None = None) -> Response:
    query = [tuple(p.split("=", 1)) for p in path.partition("?")[2].split("&") if p]
    request = Request(method=method, path=path.partition("?")[0], query=query, body=body, headers=headers or Headers())
    return asyncio.run(route(Context(request=request, now=0.0, request_id="rid"), {}))  # type: ignore[arg-type]


def book(route: GrpcRoute, **fields: object) -> bytes:
    return route._transcoder.info.reply_class(**fields).SerializeToString()


def test_unary_call_sends_the_message_and_forwards_chosen_metadata(descriptor_bytes: bytes) -> None:
    caller = FakeCaller()
    route = GrpcRoute(spec(descriptor_bytes, "GetBook"), caller)
    caller.replies = [book(route, name="shelves/s/books/7", id=7)]
    headers = Headers(
        [
            ("traceparent", "00-abc-def-01"),
            ("cookie", "secret=1"),
            ("grpc-metadata-tenant", "t1"),
            ("x-request-id", "rid"),
        ]
    )
    response = run(route, "GET", "/v1/shelves/s/books/7?view=FULL", headers=headers)
    assert response.status == 200 and json.loads(response.body) == {"name": "shelves/s/books/7", "id": "7"}
    method, sent, timeout, metadata = caller.calls[0]
    request = route._transcoder.info.request_class.FromString(sent)
    assert method == "/portico.demo.v1.Library/GetBook" and timeout == 3.0
    assert (request.shelf, request.id, request.view) == ("s", 7, 2)  # type: ignore[attr-defined]
    assert sorted(metadata) == [("tenant", "t1"), ("traceparent", "00-abc-def-01"), ("x-request-id", "rid")]


def test_bad_input_is_400_and_no_call(descriptor_bytes: bytes) -> None:
    caller = FakeCaller()
    response = run(
        GrpcRoute(spec(descriptor_bytes, "CreateBook"), caller), "POST", "/v1/shelves/s/books", b'{"id":"x"}'
    )
    assert response.status == 400 and "field 'book.id'" in json.loads(response.body)["detail"]
    assert caller.calls == []


def test_unmapped_path_is_404_and_other_method_405(descriptor_bytes: bytes) -> None:
    route = GrpcRoute(spec(descriptor_bytes, "GetBook"), FakeCaller())
    assert run(route, "GET", "/v1/elsewhere").status == 404
    response = run(route, "DELETE", "/v1/shelves/s/books/1")
    assert response.status == 405 and response.headers.get("allow") == "GET"


def test_head_is_served_by_the_get_rule_without_a_body(descriptor_bytes: bytes) -> None:
    caller = FakeCaller()
    route = GrpcRoute(spec(descriptor_bytes, "GetBook"), caller)
    caller.replies = [book(route, id=1)]
    response = run(route, "HEAD", "/v1/shelves/s/books/1")
    assert response.status == 200 and response.body == b"" and len(caller.calls) == 1


def test_stream_as_ndjson(descriptor_bytes: bytes) -> None:
    caller = FakeCaller()
    route = GrpcRoute(spec(descriptor_bytes, "ListBooks", stream="ndjson"), caller)
    caller.replies = [book(route, id=1), book(route, id=2)]
    response = run(route, "GET", "/v1/shelves/s/books")
    assert response.headers.get("content-type") == "application/x-ndjson"
    assert response.body == b'{"id":"1"}\n{"id":"2"}\n'


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (GrpcCallError(16, "token expired"), 401),
        (GrpcCallError(14, "failed to connect to all addresses; last error: 10.1.2.3:50051"), 503),
        (ReplyTooLarge("too big"), 502),
    ],
)
def test_failures_become_problems(descriptor_bytes: bytes, error: Exception, status: int) -> None:
    response = run(
        GrpcRoute(spec(descriptor_bytes, "GetBook"), FakeCaller(error=error)), "GET", "/v1/shelves/s/books/1"
    )
    assert response.status == status and response.headers.get("content-type") == "application/problem+json"
    assert b"10.1.2.3" not in response.body


def test_a_reply_that_does_not_parse_is_502(descriptor_bytes: bytes) -> None:
    route = GrpcRoute(spec(descriptor_bytes, "GetBook"), FakeCaller(replies=[b"\xff\xff\xff"]))
    assert run(route, "GET", "/v1/shelves/s/books/1").status == 502
