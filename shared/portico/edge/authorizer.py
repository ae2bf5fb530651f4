"""An API Gateway HTTP API Lambda authorizer (payload 2.0, simple responses) on the edge's identity core.

For users who put API Gateway in front of their own Lambdas: the same credential parsing, JWT verification, JWKS
cache, API-key index and scope/claim checks as the edge, with the policy given once in PORTICO_AUTHORIZER_AUTH
(a Route's `auth` block as JSON, e.g. {"jwt": {"issuers": ["corp"], "scopes": ["orders:read"]}}) and the
Issuer and Consumer documents read from the config table. Every failure is a deny; nothing ever raises.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from portico.core.auth.authenticator import Authenticator, KeySources
from portico.core.auth.authorize import authorize
from portico.core.auth.credentials import api_key, bearer_token
from portico.core.auth.errors import AuthError
from portico.core.auth.identity import Identity, header_value
from portico.core.auth.jwks_cache import JwksFetcher
from portico.core.config.context import ValidationSettings
from portico.core.config.refresh import ConfigCache
from portico.core.config.route import RouteAuth
from portico.core.config.snapshot import LoadedConfig
from portico.core.headers import Headers
from portico.core.http import Request
from portico.core.ports import ConfigStore
from portico.core.untrusted import load_json

log = logging.getLogger("portico.authorizer")


class AuthorizerSettingsError(ValueError):
    """PORTICO_AUTHORIZER_AUTH (or another setting) is missing or invalid: the cold start fails, loudly."""


def policy_from_env(env: Mapping[str, str]) -> RouteAuth:
    raw = env.get("PORTICO_AUTHORIZER_AUTH")
    if not raw:
        raise AuthorizerSettingsError('set PORTICO_AUTHORIZER_AUTH, e.g. {"jwt": {"issuers": ["corp"]}}')
    try:
        return RouteAuth.model_validate(load_json(raw, what="PORTICO_AUTHORIZER_AUTH"))
    except (ValueError, ValidationError) as exc:
        raise AuthorizerSettingsError(f"PORTICO_AUTHORIZER_AUTH is invalid: {exc}") from None


def request_of(event: Mapping[str, Any]) -> Request:
    """The parts of a payload 2.0 authorizer event that credentials live in."""
    http = (event.get("requestContext") or {}).get("http") or {}
    headers = Headers((str(k), str(v)) for k, v in (event.get("headers") or {}).items())
    query = [(str(k), str(v)) for k, v in (event.get("queryStringParameters") or {}).items()]
    return Request(
        method=str(http.get("method", "GET")), path=str(event.get("rawPath", "/")), query=query, headers=headers
    )


def allow(identity: Identity) -> dict[str, Any]:
    """Simple response; `context` reaches the integration as $context.authorizer.<name>."""
    context = {
        "sub": identity.sub or "",
        "consumer": identity.consumer or "",
        "scopes": " ".join(sorted(identity.scopes)),
    }
    if identity.issuer:
        context["issuer"] = identity.issuer
    return {"isAuthorized": True, "context": {k: header_value(v) for k, v in context.items()}}


DENY: dict[str, Any] = {"isAuthorized": False}


class Authorizer:
    def __init__(
        self,
        store: ConfigStore,
        policy: RouteAuth,
        fetcher: Callable[[], JwksFetcher],
        *,
        refresh_interval: float = 5.0,
        allow_loopback: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._policy = policy
        self._config = ConfigCache(
            store, interval=refresh_interval, settings=ValidationSettings(allow_loopback=allow_loopback)
        )
        self._sources = KeySources(fetcher)  # outlives config versions: JWKS stay cached across reloads
        self._built: tuple[LoadedConfig, Authenticator] | None = None
        self._clock = clock
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Authorizer:
        env = os.environ if env is None else env
        policy = policy_from_env(env)
        from portico.adapters.dynamodb.config_store import DynamoDbConfigStore  # lazy: boto3 only here
        from portico.adapters.jwks_http import HttpJwksFetcher

        allow_loopback = env.get("PORTICO_ALLOW_LOOPBACK_UPSTREAMS", "").lower() in ("1", "true", "yes")
        return cls(
            DynamoDbConfigStore(env.get("PORTICO_CONFIG_TABLE", "portico-config")),
            policy,
            lambda: HttpJwksFetcher(allow_loopback=allow_loopback),  # dials checked at connect time, as upstreams
            refresh_interval=float(env.get("PORTICO_CONFIG_REFRESH_SECONDS", "5")),
            allow_loopback=allow_loopback,
        )

    def _authenticator(self) -> Authenticator:
        loaded = self._config.current(time.monotonic())
        if self._built is None or self._built[0] is not loaded:
            self._built = (loaded, Authenticator(loaded.config, self._sources))
        return self._built[1]

    async def decide(self, event: Mapping[str, Any]) -> dict[str, Any]:
        try:
            request = request_of(event)
            auth, now = self._authenticator(), self._clock()
            if self._policy.none is not None:
                return {"isAuthorized": True, "context": {}}
            if self._policy.jwt is not None:
                identity = await auth.token(bearer_token(request), self._policy.jwt.issuers, now)
                authorize(identity, self._policy.jwt.scopes, self._policy.jwt.claims)
            else:
                assert self._policy.api_key is not None
                identity = auth.api_key(api_key(request, self._policy.api_key.header))
                authorize(identity, self._policy.api_key.scopes, [])
        except AuthError as exc:
            log.info("deny: %s %s", exc.error or "no credentials", exc.description)
            return DENY
        except Exception:  # config store down at cold start, a malformed event: deny, never a stack trace
            log.exception("deny: authorizer error")
            return DENY
        return allow(identity)

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Synchronous entry for Lambda; one event loop for the life of the execution environment."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(self.decide(event))

    def close(self) -> None:
        if self._loop is not None:
            self._loop.close()
            self._loop = None
