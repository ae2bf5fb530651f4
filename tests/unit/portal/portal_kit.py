"""An edge with the portal wired to in-memory stores, and a browser that follows the OIDC sign-in.

The identity provider is the real dev issuer's code (localdev.issuer.login.Grants, real RS256 ID tokens); only the
socket between the edge and it is replaced by a Transport that calls it in-process, since unit tests have no network.
The e2e test (tests/e2e/portal) runs the same flow over real sockets in a real browser.
"""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa

from localdev.issuer import public_jwk
from localdev.issuer.login import Grants, LoginError
from portico.adapters.memory import InMemoryConfigStore, InMemoryQuotaStore
from portico.core.auth.authenticator import KeySources
from portico.core.auth.jwks_cache import JwksResponse
from portico.core.chain import Context
from portico.core.config.context import ValidationSettings
from portico.core.config.documents import to_mapping
from portico.core.config.loader import parse_documents
from portico.core.config.snapshot import load_snapshot
from portico.core.headers import Headers
from portico.core.http import Request, Response
from portico.core.ports import StoredDocument
from portico.core.quota.limiter import QuotaLimiter
from portico.edge.pipeline import EdgeDeps, Pipeline, build_pipeline
from portico.edge.portal.backend import PortalBackend

ISSUER = "https://login.example.test/"
SESSION_KEY = b"k" * 32
CONFIG = f"""
apiVersion: portico/v1
kind: Issuer
metadata: {{name: idp}}
spec:
  issuer: "{ISSUER}"
  jwksUri: "{ISSUER}jwks"
  authorizationEndpoint: "{ISSUER}authorize"
  tokenEndpoint: "{ISSUER}token"
  audiences: [api://demo]
---
apiVersion: portico/v1
kind: RateLimitPolicy
metadata: {{name: gold}}
spec:
  key: consumer
  limits: [{{requests: 100, window: 1m, name: burst}}, {{requests: 10000, window: 1d, name: daily}}]
---
apiVersion: portico/v1
kind: Route
metadata: {{name: keyed}}
spec:
  match: {{pathPrefix: /keyed}}
  auth: {{apiKey: {{}}}}
  rateLimit: gold
  upstream: {{mock: {{json: {{ok: true}}}}}}
---
apiVersion: portico/v1
kind: Portal
metadata: {{name: portal}}
spec:
  signIn: {{issuer: idp, clientId: portal-client, redirectUri: "https://api.example.test/_portico/portal/callback"}}
  plan: gold
  approval: {{approval}}
  maxKeys: 2
"""
ORIGIN = "https://api.example.test"


class IssuerTransport:
    """Carries the edge's token request to the dev issuer's Grants in-process (no sockets in unit tests)."""

    def __init__(self, grants: Grants) -> None:
        self.grants = grants
        self.calls = 0

    async def send(self, request: Request, url: str, timeout: float) -> Response:
        self.calls += 1
        form = dict(parse_qsl(request.body.decode()))
        try:
            answer = self.grants.token(form, None)
        except LoginError as exc:
            return Response(
                400, Headers([("content-type", "application/json")]), json.dumps({"error": str(exc)}).encode()
            )
        return Response(200, Headers([("content-type", "application/json")]), json.dumps(answer).encode())


class NoLambda:
    async def invoke(self, function_name: str, qualifier: str | None, payload: dict[str, Any], timeout: float) -> Any:
        raise AssertionError("no lambda upstream in the portal tests")


class Jwks:
    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self.body = json.dumps({"keys": [public_jwk(key)]}).encode()

    async def fetch(self, url: str) -> JwksResponse:
        return JwksResponse(self.body, None)


@dataclass
class PortalEdge:
    approval: str = "auto"
    now: float = 1_800_000_000.0
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    logs: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        settings = ValidationSettings(allow_loopback=True)
        docs, issues = parse_documents(CONFIG.replace("{approval}", self.approval), settings=settings)
        assert not issues, issues
        self.store = InMemoryConfigStore([StoredDocument(d.kind, d.metadata.name, to_mapping(d)) for d in docs])
        self.quota = QuotaLimiter(InMemoryQuotaStore())
        self.grants = Grants(self.key, ISSUER, frozenset({"api.example.test", "127.0.0.1"}), lambda: self.now)
        self.transport = IssuerTransport(self.grants)
        rng = random.Random(11)
        sources = KeySources(lambda: Jwks(self.key))
        self.backend = PortalBackend(
            store=lambda: self.store,
            session_key=lambda: SESSION_KEY,
            client_secret=lambda: None,
            quota=lambda: self.quota,
            transport=lambda: self.transport,
            key_sources=sources,
            rng=rng.randbytes,
        )
        self.deps = EdgeDeps(
            rng=rng.randbytes,
            jitter=lambda: 0.0,
            transport=lambda: self.transport,
            invoker=lambda: NoLambda(),
            quota=lambda: self.quota,
            key_sources=sources,
            portal_backend=lambda: self.backend,
        )
        self._pipeline: Pipeline | None = None

    def pipeline(self) -> Pipeline:
        """Rebuilt when the store's version moves, as the edge's config refresh does."""
        if self._pipeline is None or self._pipeline.version != self.store.version():
            loaded = load_snapshot(self.store.snapshot(), ValidationSettings(allow_loopback=True))
            self._pipeline = build_pipeline(loaded, self.deps)
        return self._pipeline

    def request(
        self,
        method: str,
        target: str,
        *,
        cookies: list[str] | None = None,
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
        source_ip: str = "198.51.100.7",
    ) -> Response:
        path, _, query = target.partition("?")
        request = Request(
            method,
            path,
            query=parse_qsl(query),
            headers=Headers([("host", "api.example.test"), *(headers or [])]),
            body=body,
            raw_query=query,
            host="api.example.test",
            source_ip=source_ip,
            cookies=list(cookies or []),
        )
        ctx = Context(request=request, now=self.now, request_id="req-1")
        return asyncio.run(self.pipeline().handler(ctx))


def cookie_pair(set_cookie: str) -> str:
    return set_cookie.split(";", 1)[0]


@dataclass
class Browser:
    """One consumer's browser: signs in through the issuer and keeps the portal's cookies."""

    edge: PortalEdge
    jar: dict[str, str] = field(default_factory=dict)
    csrf: str = ""
    last_code: str = ""

    def keep(self, response: Response) -> None:
        for raw in response.cookies:
            name, _, value = cookie_pair(raw).partition("=")
            if "Max-Age=0" in raw:
                self.jar.pop(name, None)
            else:
                self.jar[name] = value

    def cookies(self) -> list[str]:
        return [f"{k}={v}" for k, v in self.jar.items()]

    def sign_in(self, user: str) -> Response:
        login = self.edge.request("GET", "/_portico/portal/login")
        assert login.status == 302, login.body
        self.keep(login)
        params = dict(parse_qsl(urlsplit(login.headers.get("location") or "").query))
        back = self.edge.grants.authorize({**params, "username": user})
        callback = urlsplit(back)
        self.last_code = dict(parse_qsl(callback.query))["code"]
        response = self.edge.request("GET", f"{callback.path}?{callback.query}", cookies=self.cookies())
        self.keep(response)
        return response

    def api(
        self, method: str, path: str, payload: Any = None, *, csrf: str | None = None, origin: str = ORIGIN
    ) -> Response:
        headers = [("origin", origin)] if method != "GET" else []
        token = self.csrf if csrf is None else csrf
        if method != "GET" and token:
            headers.append(("x-csrf-token", token))
        body = json.dumps(payload).encode() if payload is not None else b""
        response = self.edge.request(
            method, f"/_portico/portal/api/{path}", cookies=self.cookies(), headers=headers, body=body
        )
        if path == "me" and response.status == 200:
            self.csrf = json.loads(response.body)["csrf"]
        return response


def body(response: Response) -> Any:
    return json.loads(response.body)
