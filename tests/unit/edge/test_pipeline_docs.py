"""docs/edge.md lists the edge chain exactly as portico.edge.pipeline.edge_filters builds it (optional steps on)."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

from portico.core.config.configset import ConfigSet
from portico.core.config.loader import parse_documents
from portico.core.config.snapshot import LoadedConfig
from portico.core.iprules import IpRuleSet
from portico.edge.filters.route import build_routes
from portico.edge.pipeline import EdgeDeps, edge_filters
from portico.edge.telemetry import EdgeTelemetry

DOC = Path(__file__).resolve().parents[3] / "docs" / "edge.md"


class _Clock:
    def now(self) -> float:
        return 0.0

    def monotonic(self) -> float:
        return 0.0


class _Tracer:
    def in_subsegment_async(self, name: str) -> Any:
        raise AssertionError("never called: the chain is only built here")


def _unused() -> Any:
    raise AssertionError("no request runs here")


def _documented() -> list[str]:
    text = DOC.read_text()
    section = text.split("## The chain", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\d+\. `(\w+)`", section, flags=re.MULTILINE)


# one route per protection, so every step that is present only when some route uses it is built
PROTECTED = """
apiVersion: portico/v1
kind: Route
metadata: {name: guarded}
spec:
  match: {pathPrefix: /guarded}
  auth: {clientCert: {sans: [client.example.com]}}
  ipRules: {allow: [192.0.2.0/24]}
  validate: {query: {schema: {type: object}}}
  upstream: {mock: {status: 200}}
---
apiVersion: portico/v1
kind: Route
metadata: {name: decided}
spec:
  match: {pathPrefix: /decided}
  auth: {external: {lambda: {functionName: authz}}}
  upstream: {mock: {status: 200}}
"""


def test_docs_list_every_filter_in_pipeline_order() -> None:
    telemetry = EdgeTelemetry(access_log=lambda message, fields: None, tracer=_Tracer())
    deps = EdgeDeps(
        rng=bytes,
        jitter=lambda: 0.0,
        transport=_unused,
        invoker=_unused,
        clock=_Clock(),
        telemetry=telemetry,
        ip_policy=IpRuleSet(deny=(ipaddress.ip_network("198.51.100.0/24"),)),
    )
    docs, issues = parse_documents(PROTECTED, file="protected.yaml")
    assert not issues
    config = ConfigSet.of(docs)
    loaded = LoadedConfig(version=1, config=config)
    built = [type(step).__name__ for step in edge_filters(loaded, deps, build_routes(config.routes))]
    assert _documented() == built
