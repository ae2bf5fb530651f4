"""The real edge pipeline for a YAML config, with fake upstreams that count what reaches them (no sockets)."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

from portico.core.chain import Context
from portico.core.config.configset import ConfigSet
from portico.core.config.context import ValidationSettings
from portico.core.config.loader import parse_documents
from portico.core.config.snapshot import LoadedConfig
from portico.core.headers import Headers
from portico.core.http import Request, Response
from portico.edge.pipeline import EdgeDeps, build_pipeline

# the order schema the validation tests (unit and front door) share: types, required, enum, length, no extras
ORDER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "quantity"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "maxLength": 20},
        "quantity": {"type": "integer", "minimum": 1},
        "colour": {"enum": ["red", "green"]},
        "extra": {"type": "object"},
    },
}


class CountingUpstream:
    """A Transport that counts requests and answers 200 JSON."""

    def __init__(self, body: bytes = b'{"ok":true}') -> None:
        self.seen: list[Request] = []
        self.body = body

    async def send(self, request: Request, url: str, timeout: float) -> Response:
        self.seen.append(request)
        return Response(200, Headers([("content-type", "application/json")]), self.body)


def _no_invoker() -> Any:
    raise AssertionError("no lambda in this test")


def pipeline(config: str, transport: Any, **deps: Any) -> Any:
    docs, issues = parse_documents(config, file="test.yaml", settings=ValidationSettings(allow_loopback=True))
    assert not issues, issues
    base = EdgeDeps(
        rng=random.Random(1).randbytes, jitter=lambda: 0.0, transport=lambda: transport, invoker=_no_invoker
    )
    return build_pipeline(LoadedConfig(version=1, config=ConfigSet.of(docs)), replace(base, **deps)).handler


async def send(
    handler: Any,
    method: str,
    path: str,
    *,
    query: list[tuple[str, str]] | None = None,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    source_ip: str = "203.0.113.7",
    now: float = 1_700_000_000.0,
    **request: Any,
) -> Response:
    req = Request(
        method=method,
        path=path,
        headers=Headers([("host", "api.test"), *(headers or [])]),
        host="api.test",
        query=query or [],
        body=body,
        source_ip=source_ip,
        **request,
    )
    response: Response = await handler(Context(request=req, now=now, request_id="req-1"))
    return response
