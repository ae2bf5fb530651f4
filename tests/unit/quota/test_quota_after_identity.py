"""Quota after identity (issue 5, acceptance 4) through the real edge handler, with tokens signed by joserfc.

A forged or unsigned token, a key that does not open the route or a token without the route's scope is refused
(401/403) before the rate-limit filter runs, so it spends nothing; and a `sub` claim nobody verified can never charge
(or drain) the counter of the subject it names. The quota store is the in-memory one with DynamoDB's conditional-ADD
semantics; the DynamoDB store itself is covered in tests/functional/quota, the front door in tests/e2e.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from typing import Any

import pytest

from portico.adapters.memory import InMemoryConfigStore, InMemoryQuotaStore
from portico.core.config.context import ValidationSettings
from portico.core.config.documents import to_mapping
from portico.core.config.loader import parse_documents
from portico.core.ports import StoredDocument
from portico.core.quota.limiter import QuotaLimiter
from portico.edge.root import default_deps
from portico.edge.runtime import Edge
from portico.edge.settings import EdgeSettings
from portico.edge.telemetry import EdgeTelemetry
from tests.auth_support import AUDIENCE, ISSUER, RFC7515_A2_RSA, RecordingTransport, b64, claims, public, sign

KEY = "ptk_acme-live-key"
JWKS = json.dumps({"keys": [public(RFC7515_A2_RSA, kid="a2")]})
CONFIG = f"""
apiVersion: portico/v1
kind: Issuer
metadata: {{name: corp}}
spec: {{issuer: "{ISSUER}", jwks: {JWKS}, audiences: ["{AUDIENCE}"], algorithms: [RS256]}}
---
apiVersion: portico/v1
kind: Consumer
metadata: {{name: acme}}
spec:
  apiKeys: [{{id: live, sha256: "{hashlib.sha256(KEY.encode()).hexdigest()}"}}]
---
apiVersion: portico/v1
kind: RateLimitPolicy
metadata: {{name: per-sub}}
spec: {{key: sub, limits: [{{requests: 2, window: 1d}}]}}
---
apiVersion: portico/v1
kind: RateLimitPolicy
metadata: {{name: per-consumer}}
spec: {{key: consumer, limits: [{{requests: 2, window: 1d}}]}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: orders}}
spec:
  match: {{pathPrefix: /orders}}
  auth: {{jwt: {{issuers: [corp], scopes: ["orders:read"]}}}}
  rateLimit: per-sub
  upstream: {{http: {{url: "https://orders.example.com"}}}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: keyed}}
spec:
  match: {{pathPrefix: /keyed}}
  auth: {{apiKey: {{}}}}
  rateLimit: per-consumer
  upstream: {{http: {{url: "https://orders.example.com"}}}}
"""


class Stack:
    """One edge (one Lambda execution environment) with its quota store, upstream and access-log lines."""

    def __init__(self) -> None:
        docs, issues = parse_documents(CONFIG, file="test.yaml", settings=ValidationSettings())
        assert not issues, issues
        config = InMemoryConfigStore([StoredDocument(d.kind, d.metadata.name, to_mapping(d)) for d in docs])
        self.store = InMemoryQuotaStore()
        self.upstream = RecordingTransport()
        self.lines: list[dict[str, Any]] = []
        telemetry = EdgeTelemetry(access_log=lambda _message, fields: self.lines.append(fields))
        settings = EdgeSettings.from_env({})
        deps = default_deps(
            settings, transport=self.upstream, rng=random.Random(3), quota=QuotaLimiter(self.store), telemetry=telemetry
        )
        self.edge = Edge(config, settings, deps)

    def get(self, path: str, headers: dict[str, str], ip: str = "203.0.113.9") -> dict[str, Any]:
        return self.edge.handle(
            {
                "version": "2.0",
                "routeKey": "$default",
                "rawPath": path,
                "rawQueryString": "",
                "headers": {"host": "api.example.com", **headers},
                "requestContext": {"http": {"method": "GET", "path": path, "sourceIp": ip}, "requestId": "r"},
                "isBase64Encoded": False,
            }
        )

    def partitions(self) -> set[str]:
        """The partitions that have a counter: `policy|window|partition|index` keys, charged or not."""
        return {key.split("|")[2] for key in self.store.values}


@pytest.fixture
def stack() -> Any:
    built = Stack()
    yield built
    built.edge.close()


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _real(sub: str, **overrides: Any) -> str:
    # Claims from the clock at signing time: the edge checks exp against the real clock, and a module-level `now`
    # is minutes old by the time a long suite reaches these tests (CI saw them expire: 401 for 200).
    return sign(RFC7515_A2_RSA, {"alg": "RS256", "kid": "a2"}, claims(time.time(), sub=sub, **overrides))


def _attacker_key() -> dict[str, str]:
    from cryptography.hazmat.primitives.asymmetric import rsa
    from joserfc.jwk import RSAKey

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return dict(RSAKey.import_key(key).as_dict(private=True))  # type: ignore[arg-type]


def _forged_victim_tokens() -> dict[str, str]:
    """Tokens that all name sub=victim, none of them verifiable with the issuer's key."""
    body = b64(json.dumps(claims(time.time(), sub="victim")).encode())
    genuine = _real("someone-else").split(".")
    none, hs256 = b64(b'{"alg":"none"}'), b64(b'{"alg":"HS256","kid":"a2"}')
    return {
        "unsigned (alg none)": f"{none}.{body}.",
        "signed by an attacker's key under the issuer's kid": sign(
            _attacker_key(), {"alg": "RS256", "kid": "a2"}, claims(time.time(), sub="victim")
        ),
        "a genuine signature over a swapped payload": f"{genuine[0]}.{body}.{genuine[2]}",
        "HS256 keyed with a guess": f"{hs256}.{body}.{b64(b'x' * 32)}",
    }


def _remaining(answer: dict[str, Any]) -> str:
    return str(answer["headers"]["ratelimit"]).split(";")[1]


def test_forged_tokens_are_401_before_quota_and_never_charge_the_subject_they_name(stack: Stack) -> None:
    for name, token in _forged_victim_tokens().items():
        for _ in range(3):  # more than the limit: had they been counted, the victim would be locked out
            answer = stack.get("/orders/1", _bearer(token))
            assert answer["statusCode"] == 401, name
            assert "ratelimit" not in answer["headers"], name
    assert stack.store.writes == 0 and stack.upstream.seen == []
    assert {line["rate_limit"] for line in stack.lines} == {"none"} and all(line["auth_failed"] for line in stack.lines)

    victim = _real("victim")
    answers = [stack.get("/orders/1", _bearer(victim)) for _ in range(3)]
    assert [a["statusCode"] for a in answers] == [200, 200, 429]
    assert [_remaining(a) for a in answers] == ["r=1", "r=0", "r=0"]  # the victim's whole quota was still there
    assert [line["rate_limit"] for line in stack.lines[-3:]] == ["allowed", "allowed", "limited"]


def test_a_verified_subject_spends_only_its_own_counter(stack: Stack) -> None:
    mallory = _real("mallory")
    assert [stack.get("/orders/1", _bearer(mallory))["statusCode"] for _ in range(3)] == [200, 200, 429]
    assert stack.partitions() == {"sub:mallory"}
    answer = stack.get("/orders/1", _bearer(_real("victim")))
    assert answer["statusCode"] == 200 and _remaining(answer) == "r=1"


def test_a_token_without_the_scope_is_403_and_spends_nothing(stack: Stack) -> None:
    narrow = _real("victim", scope="profile")
    assert [stack.get("/orders/1", _bearer(narrow))["statusCode"] for _ in range(3)] == [403] * 3
    assert stack.store.writes == 0


def test_wrong_api_keys_are_401_before_quota_and_the_consumer_keeps_its_quota(stack: Stack) -> None:
    for key in ("ptk_wrong", KEY + "x", KEY.upper(), ""):
        for _ in range(3):
            assert stack.get("/keyed/1", {"x-api-key": key})["statusCode"] == 401
    # the consumer's name in a header is not an identity either: header hygiene drops it before anyone reads it
    assert stack.get("/keyed/1", {"x-portico-consumer": "acme"})["statusCode"] == 401
    assert stack.store.writes == 0
    answers = [stack.get("/keyed/1", {"x-api-key": KEY}) for _ in range(3)]
    assert [a["statusCode"] for a in answers] == [200, 200, 429]
    assert _remaining(answers[0]) == "r=1" and stack.partitions() == {"consumer:acme"}
