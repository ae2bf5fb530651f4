"""Test kit for the edge's telemetry: an Edge from YAML text with captured sinks, a manual clock, a fake upstream."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field
from typing import Any

from portico.adapters.memory import InMemoryConfigStore
from portico.core.config.context import ValidationSettings
from portico.core.config.documents import to_mapping
from portico.core.config.loader import parse_documents
from portico.core.headers import Headers
from portico.core.http import Request, Response
from portico.core.ports import StoredDocument
from portico.core.quota.limiter import QuotaLimiter
from portico.edge.root import default_deps
from portico.edge.runtime import Edge
from portico.edge.settings import EdgeSettings
from portico.edge.telemetry import EdgeTelemetry


class ManualClock:
    """Time moves only when a test (or the fake upstream) says so."""

    def __init__(self) -> None:
        self.wall = 1_700_000_000.0
        self.mono = 100.0

    def now(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


@dataclass
class FakeUpstream:
    """A Transport that answers `status` after `delay` seconds of manual-clock time, remembering each request."""

    clock: ManualClock
    status: int = 200
    delay: float = 0.0
    seen: list[Request] = field(default_factory=list)

    async def send(self, request: Request, url: str, timeout: float) -> Response:
        self.seen.append(request)
        self.clock.advance(self.delay)
        return Response(self.status, Headers([("content-type", "application/json")]), b"{}")


@dataclass
class Captured:
    lines: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)

    def log(self, message: str, fields: dict[str, Any]) -> None:
        self.lines.append({"message": message, **fields})

    def emf(self, document: dict[str, Any]) -> None:
        self.metrics.append(document)


def build_edge(
    yaml_text: str,
    captured: Captured,
    clock: ManualClock,
    upstream: FakeUpstream | None = None,
    quota: QuotaLimiter | None = None,
) -> Edge:
    validation = ValidationSettings(allow_loopback=True)
    docs, issues = parse_documents(yaml_text, file="test.yaml", settings=validation)
    assert not issues, issues
    store = InMemoryConfigStore([StoredDocument(d.kind, d.metadata.name, to_mapping(d)) for d in docs])
    settings = EdgeSettings.from_env({"PORTICO_ALLOW_LOOPBACK_UPSTREAMS": "true", "PORTICO_API_NAME": "shop"})
    telemetry = EdgeTelemetry(api="shop", namespace="Portico", access_log=captured.log, metrics=captured.emf)
    deps = default_deps(settings, transport=upstream, rng=random.Random(7), quota=quota, telemetry=telemetry)
    return Edge(store, settings, dataclasses.replace(deps, clock=clock))


def event(
    path: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    request_id: str = "req-1",
    source_ip: str = "10.0.0.1",
) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "api.example.com", **(headers or {})},
        "requestContext": {"http": {"method": method, "path": path, "sourceIp": source_ip}, "requestId": request_id},
        "isBase64Encoded": False,
    }
