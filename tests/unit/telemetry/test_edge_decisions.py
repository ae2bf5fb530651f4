"""The deciding filters set their ctx.attrs keys (edge/filters/attrs.py) and the access log and EMF show them.

Each case is one the access log's response fallbacks cannot produce on their own: "allowed", "failed-open" and
"failed-closed" (a 200 or 503 says nothing about quota), a cache "miss", and an auth refusal as set by the filter.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

import pytest
from obskit import Captured, FakeUpstream, ManualClock, build_edge, event

from portico.adapters.memory import InMemoryQuotaStore
from portico.core.auth.authenticator import Authenticator, KeySources
from portico.core.auth.jwks_cache import JwksFetcher, JwksResponse
from portico.core.chain import Context, Handler, build_chain
from portico.core.config.configset import ConfigSet
from portico.core.config.loader import parse_documents
from portico.core.headers import Headers
from portico.core.http import Request, Response
from portico.core.ports import StoreUnavailable
from portico.core.quota.limiter import QuotaLimiter
from portico.edge.filters import attrs
from portico.edge.filters.auth import AuthenticationFilter, AuthorisationFilter
from tests.auth_support import RFC7515_A3_EC, public

ROUTES = """
apiVersion: portico/v1
kind: Route
metadata: {{name: limited}}
spec:
  match: {{pathPrefix: /limited}}
  auth: {{none: {{}}}}
  rateLimit: two
  upstream: {{http: {{url: "http://127.0.0.1:9", timeout: 2s}}}}
---
apiVersion: portico/v1
kind: RateLimitPolicy
metadata: {{name: two}}
spec: {{key: ip, failureMode: {mode}, limits: [{{requests: 2, window: 1d}}]}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: catalog}}
spec:
  match: {{pathPrefix: /catalog}}
  auth: {{none: {{}}}}
  cache: {{ttl: 30s}}
  upstream: {{http: {{url: "http://127.0.0.1:9", timeout: 2s}}}}
"""


class DownStore(InMemoryQuotaStore):
    async def add(self, key: str, amount: int, ceiling: int, expires_at: int) -> int | None:
        raise StoreUnavailable("ThrottlingException")


def _lines(paths: Sequence[str], *, mode: str = "open", store: InMemoryQuotaStore | None = None) -> Captured:
    captured, clock = Captured(), ManualClock()
    quota = QuotaLimiter(store or InMemoryQuotaStore())
    edge = build_edge(ROUTES.format(mode=mode), captured, clock, FakeUpstream(clock), quota=quota)
    try:
        for path in paths:
            edge.handle(event(path))
    finally:
        edge.close()
    return captured


def test_rate_limit_decisions_reach_the_log_line_and_emf() -> None:
    captured = _lines(["/limited/a"] * 3)
    assert [line["rate_limit"] for line in captured.lines] == ["allowed", "allowed", "limited"]
    assert [doc["RateLimited"] for doc in captured.metrics] == [0, 0, 1]


@pytest.mark.parametrize(("mode", "status"), [("open", 200), ("closed", 503)])
def test_a_store_failure_is_logged_as_failed_open_or_closed(mode: str, status: int) -> None:
    captured = _lines(["/limited/a"], mode=mode, store=DownStore())
    [line] = captured.lines
    assert (line["status"], line["rate_limit"]) == (status, f"failed-{mode}")
    assert captured.metrics[0]["RateLimitFailedOpen"] == (1 if mode == "open" else 0)


def test_every_failed_open_request_is_counted_but_warned_about_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="portico.quota"):
        captured = _lines(["/limited/a"] * 5 + ["/catalog/1"], store=DownStore())
    assert [doc["RateLimitFailedOpen"] for doc in captured.metrics] == [1, 1, 1, 1, 1, 0]
    [warning] = [r.getMessage() for r in caplog.records if r.name == "portico.quota"]
    assert warning == (
        "rate limit failed open: policy two: quota store: ThrottlingException; 1 request(s) since the last warning"
    )


def test_cache_miss_then_hit_reach_the_log_line_and_emf() -> None:
    captured = _lines(["/catalog/1", "/catalog/1", "/limited/a"])
    assert [line["cache"] for line in captured.lines] == ["miss", "hit", "none"]
    assert [doc["CacheHit"] for doc in captured.metrics] == [0, 1, 0]


# ── auth: the refusal is marked by the filter itself, so the count does not hang on a WWW-Authenticate header
AUTH = """
apiVersion: portico/v1
kind: Issuer
metadata: {name: corp}
spec: {issuer: "https://idp.example.com/", jwks: JWKS, audiences: [api://x], algorithms: [ES256]}
---
apiVersion: portico/v1
kind: Consumer
metadata: {name: acme}
spec:
  scopes: [read]
  apiKeys: [{id: k, sha256: "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"}]
---
apiVersion: portico/v1
kind: Route
metadata: {name: jwt}
spec:
  match: {pathPrefix: /jwt}
  auth: {jwt: {issuers: [corp]}}
  upstream: {mock: {}}
---
apiVersion: portico/v1
kind: Route
metadata: {name: admin}
spec:
  match: {pathPrefix: /admin}
  auth: {apiKey: {scopes: [admin]}}
  upstream: {mock: {}}
---
apiVersion: portico/v1
kind: Route
metadata: {name: reader}
spec:
  match: {pathPrefix: /reader}
  auth: {apiKey: {scopes: [read]}}
  upstream: {mock: {}}
""".replace("JWKS", json.dumps({"keys": [public(RFC7515_A3_EC, kid="a3")]}))  # the key's sha256: of "secret"


class _NoFetch:
    async def fetch(self, url: str) -> JwksResponse:
        raise AssertionError("inline keys only")


def _no_fetcher() -> JwksFetcher:
    return _NoFetch()


def _auth_attrs(route: str, headers: list[tuple[str, str]]) -> tuple[int, dict[str, object]]:
    docs, issues = parse_documents(AUTH)
    assert not issues, issues
    config = ConfigSet.of(docs)
    seen: dict[str, object] = {}

    async def route_and_record(ctx: Context, next: Handler) -> Response:
        ctx.attrs[attrs.ROUTE] = config.routes[route]
        response = await next(ctx)
        seen.update(ctx.attrs)
        return response

    async def ok(ctx: Context) -> Response:
        return Response(200)

    filters = [
        route_and_record,
        AuthenticationFilter(Authenticator(config, KeySources(_no_fetcher))),
        AuthorisationFilter(),
    ]
    ctx = Context(Request("GET", "/x", headers=Headers(headers)), now=1_700_000_000.0, request_id="r")
    return asyncio.run(build_chain(filters, ok)(ctx)).status, seen


@pytest.mark.parametrize(
    ("route", "headers", "status"),
    [
        ("jwt", [], 401),
        ("jwt", [("authorization", "Bearer not-a-jwt")], 401),
        ("admin", [("x-api-key", "wrong")], 401),
        ("admin", [("x-api-key", "secret")], 403),  # a good key without the route's scope
    ],
)
def test_auth_refusals_set_auth_failed(route: str, headers: list[tuple[str, str]], status: int) -> None:
    got, seen = _auth_attrs(route, headers)
    assert got == status and seen.get(attrs.AUTH_FAILED) is True


def test_an_accepted_credential_sets_no_auth_failed() -> None:
    status, seen = _auth_attrs("reader", [("x-api-key", "secret")])
    assert status == 200 and attrs.AUTH_FAILED not in seen and seen.get(attrs.IDENTITY) is not None
