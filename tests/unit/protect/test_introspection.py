"""Token introspection through the real edge chain, with an RFC 7662 endpoint as a fake Transport (no sockets)."""

from __future__ import annotations

import asyncio
import gc
import json
import pickle
from typing import Any
from urllib.parse import parse_qs

from portico.core.auth.decisions import AuthState
from portico.core.config.protection import ClientCredentials
from portico.core.headers import Headers
from portico.core.http import Request, Response
from tests.unit.protect.kit import pipeline, send

NOW = 1_700_000_000.0
TOKEN = "opaque-" + "x" * 40
CONFIG = """
apiVersion: portico/v1
kind: Consumer
metadata: {name: acme}
spec: {subjects: [alice]}
---
apiVersion: portico/v1
kind: Route
metadata: {name: opaque}
spec:
  match: {pathPrefix: /opaque}
  auth:
    introspection:
      endpoint: https://idp.example.com/introspect
      credentials: {clientIdEnv: ID, clientSecretEnv: SECRET}
      issuer: https://idp.example.com/
      audiences: [api://orders]
      scopes: [orders:read]
      cacheSize: 3
  upstream: {mock: {status: 200}}
"""


class Idp:
    """An RFC 7662 endpoint: checks client authentication, answers per token, counts calls."""

    def __init__(self, answers: dict[str, dict[str, Any]]) -> None:
        self.answers = answers
        self.calls = 0

    async def send(self, request: Request, url: str, timeout: float) -> Response:
        self.calls += 1
        await asyncio.sleep(0.01)  # a real round trip, so concurrent requests overlap
        assert url == "https://idp.example.com/introspect" and request.method == "POST"
        assert request.headers.get("authorization") == "Basic ZWRnZTpzM2NyZXQ="  # edge:s3cret
        token = parse_qs(request.body.decode())["token"][0]
        body = json.dumps(self.answers.get(token, {"active": False})).encode()
        return Response(200, Headers([("content-type", "application/json")]), body)


class Creds:
    async def credentials(self, spec: ClientCredentials, now: float) -> tuple[str, str]:
        return "edge", "s3cret"


def _good(**over: Any) -> dict[str, Any]:
    return {
        "active": True,
        "exp": NOW + 600,
        "iss": "https://idp.example.com/",
        "aud": ["api://orders"],
        "scope": "orders:read",
        "sub": "alice",
        **over,
    }


def _handler(idp: Idp, state: AuthState | None = None) -> Any:
    st = state or AuthState()
    return pipeline(CONFIG, idp, credentials=Creds, auth_state=lambda: st)


def _get(handler: Any, token: str, now: float = NOW) -> Response:
    return asyncio.run(send(handler, "GET", "/opaque/x", headers=[("authorization", f"Bearer {token}")], now=now))


def test_active_token_passes_and_inactive_expired_wrong_audience_are_401() -> None:
    idp = Idp(
        {
            "good": _good(),
            "inactive": {"active": False},
            "expired": _good(exp=NOW - 1),
            "aud": _good(aud="api://other"),
            "iss": _good(iss="https://evil/"),
            "scope": _good(scope="other"),
        }
    )
    handler = _handler(idp)
    assert _get(handler, "good").status == 200
    for token in ("inactive", "expired", "aud", "iss", "unknown"):
        response = _get(handler, token)
        assert response.status == 401, token
        assert json.loads(response.body)["error"] == "invalid_token"
    assert _get(handler, "scope").status == 403  # active, but the route's scope is missing


def test_a_thousand_requests_one_call_and_the_cache_holds_no_raw_token() -> None:
    idp, state = Idp({TOKEN: _good()}), AuthState()
    handler = _handler(idp, state)

    async def burst() -> list[int]:
        first = await asyncio.gather(
            *(
                send(handler, "GET", "/opaque/x", headers=[("authorization", f"Bearer {TOKEN}")], now=NOW)
                for _ in range(100)
            )
        )
        rest = [
            await send(handler, "GET", "/opaque/x", headers=[("authorization", f"Bearer {TOKEN}")], now=NOW + 1)
            for _ in range(900)
        ]
        return [r.status for r in [*first, *rest]]

    assert asyncio.run(burst()) == [200] * 1000
    assert idp.calls == 1
    gc.collect()
    dumped = pickle.dumps(state)  # everything the caches hold, keys and values
    assert TOKEN.encode() not in dumped and b"opaque-xxxx" not in dumped
    assert len(state.introspection) == 1


def test_cached_until_exp_then_asked_again() -> None:
    idp = Idp({"short": _good(exp=NOW + 5)})
    handler = _handler(idp)
    assert _get(handler, "short", NOW).status == 200
    assert _get(handler, "short", NOW + 4).status == 200
    assert idp.calls == 1
    assert _get(handler, "short", NOW + 6).status == 401  # expired now; the endpoint is asked and says so
    assert idp.calls == 2


def test_cache_is_bounded() -> None:
    idp, state = Idp({f"t{i}": _good() for i in range(10)}), AuthState()
    handler = _handler(idp, state)
    for i in range(10):
        assert _get(handler, f"t{i}").status == 200
    [cache] = state.introspection.values()
    assert len(cache) == 3


def test_endpoint_failure_is_503_never_a_pass() -> None:
    class Down:
        async def send(self, request: Request, url: str, timeout: float) -> Response:
            from portico.core.ports import UpstreamConnectError

            raise UpstreamConnectError("refused")

    response = _get(_handler(Down()), "good")  # type: ignore[arg-type]
    assert response.status == 503 and response.headers.get("content-type") == "application/problem+json"


def test_introspected_subject_maps_to_its_consumer() -> None:
    """The introspected sub goes through Consumer.subjects, as a JWT sub does (quota per consumer)."""
    from portico.core.chain import Context
    from portico.edge.filters.attrs import IDENTITY

    seen: list[Any] = []
    handler = _handler(Idp({"good": _good()}))

    async def run() -> None:
        req = Request(
            method="GET", path="/opaque/x", headers=Headers([("host", "a"), ("authorization", "Bearer good")])
        )
        ctx = Context(request=req, now=NOW, request_id="r")
        await handler(ctx)
        seen.append(ctx.attrs[IDENTITY])

    asyncio.run(run())
    assert seen[0].consumer == "acme" and seen[0].scopes == frozenset({"orders:read"})
