"""Acceptance 3: key rotation against a real JWKS HTTP server on a free port, through the real edge pipeline.

The edge's clock is injected (ctx.now), so "a minute" passes instantly; the server counts real HTTP fetches.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey

from portico.adapters.jwks_http import HttpJwksFetcher
from portico.core.auth.authenticator import KeySources
from portico.core.auth.jwks_cache import JwksFetchError
from tests.auth_support import AUDIENCE, ISSUER, RecordingTransport, call, claims, edge_handler, public, sign


class JwksServer:
    """Serves {"keys": self.keys} at /jwks.json on 127.0.0.1:<free port>, counting fetches."""

    def __init__(self) -> None:
        self.keys: list[dict[str, str]] = []
        self.fetches = 0
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                body = json.dumps({"keys": outer.keys}).encode()
                if self.path == "/moved":
                    self.send_response(302)
                    self.send_header("Location", f"http://127.0.0.1:{outer.port}/jwks.json")
                    self.end_headers()
                    return
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "max-age=3600")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> JwksServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    with JwksServer() as server:
        yield server


def _key(kid: str) -> dict[str, str]:
    jwk = dict(ECKey.import_key(ec.generate_private_key(ec.SECP256R1())).as_dict(private=True))  # type: ignore[arg-type]
    return {**jwk, "kid": kid}


def _config(port: int, path: str = "/jwks.json") -> str:
    return f"""
apiVersion: portico/v1
kind: Issuer
metadata: {{name: corp}}
spec:
  issuer: "{ISSUER}"
  jwksUri: "http://127.0.0.1:{port}{path}"
  audiences: ["{AUDIENCE}"]
  algorithms: [ES256]
---
apiVersion: portico/v1
kind: Route
metadata: {{name: orders}}
spec:
  match: {{pathPrefix: /orders}}
  auth: {{jwt: {{issuers: [corp]}}}}
  upstream: {{http: {{url: "https://orders.example.com"}}}}
"""


def _handler(server: JwksServer, path: str = "/jwks.json") -> Any:
    sources = KeySources(lambda: HttpJwksFetcher(timeout=2.0, allow_loopback=True))
    return edge_handler(_config(server.port, path), RecordingTransport(), sources, allow_loopback=True)


def _token(jwk: dict[str, str], now: float, kid: str | None = None) -> dict[str, str]:
    token = sign(jwk, {"alg": "ES256", "kid": kid or jwk["kid"]}, claims(now, exp=int(now) + 3600))
    return {"authorization": f"Bearer {token}"}


def test_rotated_key_is_accepted_after_one_refetch(jwks_server: JwksServer) -> None:
    old, new = _key("k1"), _key("k2")
    jwks_server.keys = [public(old)]
    handler = _handler(jwks_server)

    async def scenario() -> None:
        t0 = 1_900_000_000.0
        assert (await call(handler, "/orders/1", _token(old, t0), t0)).status == 200
        assert jwks_server.fetches == 1
        jwks_server.keys = [public(old), public(new)]  # the issuer adds a key and starts signing with it
        t1 = t0 + 61
        assert (await call(handler, "/orders/1", _token(new, t1), t1)).status == 200
        assert jwks_server.fetches == 2
        assert (await call(handler, "/orders/1", _token(new, t1 + 1), t1 + 1)).status == 200
        assert (await call(handler, "/orders/1", _token(old, t1 + 2), t1 + 2)).status == 200
        assert jwks_server.fetches == 2  # both kids now cached

    asyncio.run(scenario())


def test_a_thousand_random_unknown_kids_cost_at_most_one_fetch_a_minute(jwks_server: JwksServer) -> None:
    signer = _key("k1")
    jwks_server.keys = [public(signer)]
    handler = _handler(jwks_server)
    rng = random.Random(42)

    async def scenario() -> tuple[float, list[int]]:
        start = now = 1_900_000_000.0
        assert (await call(handler, "/orders/1", _token(signer, now), now)).status == 200
        statuses = []
        for _ in range(1000):
            now += rng.uniform(0.0, 0.6)  # ~5 minutes of traffic
            response = await call(handler, "/orders/1", _token(signer, now, kid=f"{rng.getrandbits(64):x}"), now)
            statuses.append(response.status)
        return now - start, statuses

    elapsed, statuses = asyncio.run(scenario())
    assert set(statuses) == {401}
    assert 2 <= jwks_server.fetches <= 1 + int(elapsed // 60) + 1  # the first load, then at most one a minute


def test_endpoint_down_keeps_serving_stale_keys(jwks_server: JwksServer) -> None:
    signer = _key("k1")
    jwks_server.keys = [public(signer)]
    handler = _handler(jwks_server)

    async def scenario() -> None:
        t0 = 1_900_000_000.0
        assert (await call(handler, "/orders/1", _token(signer, t0), t0)).status == 200
        jwks_server.status = 503
        t1 = t0 + 7200  # past max-age: a refetch is due and fails
        assert (await call(handler, "/orders/1", _token(signer, t1), t1)).status == 200
        assert jwks_server.fetches == 2

    asyncio.run(scenario())


def test_redirects_are_not_followed(jwks_server: JwksServer) -> None:
    jwks_server.keys = [public(_key("k1"))]
    fetcher = HttpJwksFetcher(timeout=2.0, allow_loopback=True)
    with pytest.raises(JwksFetchError, match="redirect 302"):
        asyncio.run(fetcher.fetch(f"http://127.0.0.1:{jwks_server.port}/moved"))
    assert jwks_server.fetches == 1


def test_no_keys_at_all_is_401_never_5xx() -> None:
    with JwksServer() as server:
        port = server.port
    handler = edge_handler(
        _config(port),
        RecordingTransport(),
        KeySources(lambda: HttpJwksFetcher(allow_loopback=True)),
        allow_loopback=True,
    )
    signer = _key("k1")
    response = asyncio.run(call(handler, "/orders/1", _token(signer, 1_900_000_000.0), 1_900_000_000.0))
    assert response.status == 401 and "unavailable" in json.loads(response.body)["detail"]
