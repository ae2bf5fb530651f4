"""Builds the real edge pipeline from YAML with in-memory fakes for the transport and the Lambda invoker."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from portico.core.chain import Context
from portico.core.config.configset import ConfigSet
from portico.core.config.context import ValidationSettings
from portico.core.config.loader import parse_documents
from portico.core.config.snapshot import LoadedConfig
from portico.core.headers import Headers
from portico.core.http import Request, Response
from portico.core.ports import UpstreamConnectError
from portico.edge.pipeline import EdgeDeps, Pipeline, build_pipeline

Reply = Callable[[Request, str], Response]


@dataclass
class FakeTransport:
    """Answers by URL path: `delay` seconds first, then `reply`; records every request it was sent."""

    replies: dict[str, tuple[float, Reply]] = field(default_factory=dict)
    sent: list[tuple[Request, str]] = field(default_factory=list)
    in_flight: int = 0
    peak: int = 0

    async def send(self, request: Request, url: str, timeout: float) -> Response:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            return await self._send(request, url)
        finally:
            self.in_flight -= 1

    async def _send(self, request: Request, url: str) -> Response:
        self.sent.append((request, url))
        path = url.split("://", 1)[1].split("/", 1)[1] if "/" in url.split("://", 1)[1] else ""
        key = "/" + path.split("?", 1)[0]
        if key not in self.replies:
            raise UpstreamConnectError(f"nothing listens for {key}")
        delay, reply = self.replies[key]
        await asyncio.sleep(delay)
        return reply(request, url)


@dataclass
class FakeInvoker:
    """Stands in for AWS Lambda, which cannot run here: returns `result` for any invocation, after `delay`."""

    result: Any = None
    delay: float = 0.0
    calls: list[dict[str, Any]] = field(default_factory=list)

    async def invoke(self, function_name: str, qualifier: str | None, payload: dict[str, Any], timeout: float) -> Any:
        self.calls.append(payload)
        await asyncio.sleep(self.delay)
        return self.result


def json_reply(body: Any, status: int = 200, **headers: str) -> Reply:
    def reply(request: Request, url: str) -> Response:
        fields = Headers(
            [("content-type", "application/json"), *((k.replace("_", "-"), v) for k, v in headers.items())]
        )
        return Response(status, fields, json.dumps(body).encode())

    return reply


def pipeline(yaml_text: str, transport: FakeTransport | None = None, invoker: FakeInvoker | None = None) -> Pipeline:
    docs, issues = parse_documents(yaml_text, settings=ValidationSettings(allow_loopback=True))
    assert not issues, issues
    rng = random.Random(7)
    deps = EdgeDeps(
        rng=rng.randbytes,
        jitter=lambda: 0.0,
        transport=lambda: transport or FakeTransport(),
        invoker=lambda: invoker or FakeInvoker(),
    )
    return build_pipeline(LoadedConfig(1, ConfigSet.of(docs)), deps)


def call(
    pipe: Pipeline,
    method: str,
    target: str,
    *,
    now: float = 1_000_000.0,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    attrs: dict[str, Any] | None = None,
) -> Response:
    path, _, query = target.partition("?")
    pairs = [tuple(p.split("=", 1)) for p in query.split("&") if "=" in p]
    request = Request(
        method,
        path,
        query=[(k, v) for k, v in pairs],
        headers=Headers([("host", "api.test"), *(headers or [])]),
        body=body,
        raw_query=query,
        host="api.test",
        source_ip="198.51.100.7",
    )
    ctx = Context(request=request, now=now, request_id="req-1", attrs=dict(attrs or {}))
    return asyncio.run(pipe.handler(ctx))


def body(response: Response) -> Any:
    return json.loads(response.body)
