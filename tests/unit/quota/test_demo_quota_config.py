"""The shipped demo config (localdev/demo/config/, applied together by `portico dev up`) and its rate-limit demo."""

from __future__ import annotations

import random
import time
from pathlib import Path

from portico.adapters.memory import InMemoryConfigStore, InMemoryQuotaStore
from portico.controlplane import check_references, read_files
from portico.core.config.configset import ConfigSet
from portico.core.config.context import ValidationSettings
from portico.core.config.documents import Document, to_mapping
from portico.core.ports import StoredDocument
from portico.core.quota.limiter import QuotaLimiter
from portico.edge.root import default_deps
from portico.edge.runtime import Edge
from portico.edge.settings import EdgeSettings
from portico.edge.telemetry import EdgeTelemetry

DEMO = Path(__file__).resolve().parents[3] / "localdev" / "demo" / "config"


def _demo_docs() -> list[Document]:
    # grpc.yaml names a descriptor set that `dev up` builds before it applies the files; it references nothing else
    files = sorted(p for p in DEMO.glob("*.yaml") if p.name != "grpc.yaml")
    docs = read_files(files, ValidationSettings(allow_loopback=True))
    check_references(docs, "localdev/demo/config")  # routes in one file may name policies in another
    return docs


def test_demo_files_validate_together_and_the_quota_routes_are_keyed_as_documented() -> None:
    config = ConfigSet.of(_demo_docs())
    limited, keyed = config.routes["demo-limited"].spec, config.routes["demo-keyed"].spec
    assert limited.auth.none is not None and limited.rate_limit is not None
    assert config.rate_limit_policies[limited.rate_limit].spec.key == "ip"
    assert keyed.auth.api_key is not None and keyed.rate_limit is not None
    assert config.rate_limit_policies[keyed.rate_limit].spec.key == "consumer"


def test_the_anonymous_demo_route_answers_ratelimit_headers_and_429s_the_sixth() -> None:
    docs = _demo_docs()
    store = InMemoryConfigStore([StoredDocument(d.kind, d.metadata.name, to_mapping(d)) for d in docs])
    settings = EdgeSettings.from_env({"PORTICO_ALLOW_LOOPBACK_UPSTREAMS": "true"})
    deps = default_deps(
        settings, rng=random.Random(5), quota=QuotaLimiter(InMemoryQuotaStore()), telemetry=EdgeTelemetry()
    )
    edge = Edge(store, settings, deps)
    event = {
        "version": "2.0",
        "rawPath": "/demo/limited",
        "rawQueryString": "",
        "headers": {"host": "127.0.0.1:8080"},
        "requestContext": {"http": {"method": "GET", "path": "/demo/limited", "sourceIp": "127.0.0.1"}},
    }
    if time.time() % 60 > 58:  # the policy's window is a minute on the wall clock: stay inside one
        time.sleep(60 - time.time() % 60 + 0.05)
    try:
        answers = [edge.handle(event) for _ in range(6)]
    finally:
        edge.close()
    assert [a["statusCode"] for a in answers] == [200] * 5 + [429]
    assert answers[0]["headers"]["ratelimit-policy"] == '"1m";q=5;w=60'
    assert answers[0]["headers"]["ratelimit"].startswith('"1m";r=4;t=')
    assert int(answers[5]["headers"]["retry-after"]) >= 1
