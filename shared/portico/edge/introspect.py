"""Token introspection at the edge (RFC 7662): one POST per token and cache period, through the edge's Transport.

The call goes through the same Transport as http upstreams, so the endpoint's addresses pass the resolve-and-check
path (portico.adapters.resolve) at connect time. Concurrent requests with the same token share one call.
Caches live in `AuthState`, which outlives config versions: an `apply` does not trigger a burst of introspection.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import quote, urlencode, urlsplit

from portico.core.auth.decisions import AuthState
from portico.core.auth.errors import AuthUnavailable, InvalidToken
from portico.core.auth.identity import Identity
from portico.core.auth.introspection import (
    NEGATIVE_TTL,
    CachedAnswer,
    IntrospectionCache,
    IntrospectionPolicy,
    read_answer,
    token_digest,
)
from portico.core.config.protection import ClientCredentials, Introspection
from portico.core.headers import Headers
from portico.core.http import Request
from portico.core.ports import Transport, UpstreamError
from portico.core.untrusted import UntrustedInputError, load_json

MAX_ANSWER_BYTES = 64 * 1024


class CredentialSource(Protocol):
    async def credentials(self, spec: ClientCredentials, now: float) -> tuple[str, str]: ...


@dataclass(slots=True)
class Introspector:
    spec: Introspection
    transport: Callable[[], Transport]
    credentials: Callable[[], CredentialSource]
    cache: IntrospectionCache
    calls: int = 0
    _inflight: dict[str, asyncio.Future[CachedAnswer]] = field(default_factory=dict)

    @property
    def policy(self) -> IntrospectionPolicy:
        return IntrospectionPolicy(self.spec.issuer, frozenset(self.spec.audiences), self.spec.cache_ttl)

    async def identify(self, token: str, now: float) -> Identity:
        digest = token_digest(token)
        answer = self.cache.get(digest, now)
        if answer is None:
            pending = self._inflight.get(digest)
            if pending is not None:
                answer = await asyncio.shield(pending)
            else:
                answer = await self._lookup(token, digest, now)
        if answer.identity is None:
            raise InvalidToken(answer.reason)
        return answer.identity

    async def _lookup(self, token: str, digest: str, now: float) -> CachedAnswer:
        future: asyncio.Future[CachedAnswer] = asyncio.get_running_loop().create_future()
        self._inflight[digest] = future
        try:
            answer, until = await self._ask(token, now)
            self.cache.put(digest, answer, now, until)
            future.set_result(answer)
            return answer
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here, so an unshared failure is not reported as never retrieved
            raise
        finally:
            del self._inflight[digest]

    async def _ask(self, token: str, now: float) -> tuple[CachedAnswer, float]:
        client_id, secret = await self.credentials().credentials(self.spec.credentials, now)
        basic = base64.b64encode(f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()).decode()
        url = urlsplit(self.spec.endpoint)
        request = Request(
            method="POST",
            path=url.path or "/",
            headers=Headers(
                [
                    ("host", url.netloc),
                    ("content-type", "application/x-www-form-urlencoded"),
                    ("accept", "application/json"),
                    ("authorization", f"Basic {basic}"),  # RFC 6749 §2.3.1: form-encoded, then Basic
                ]
            ),
            body=urlencode({"token": token, "token_type_hint": "access_token"}).encode(),
        )
        self.calls += 1
        try:
            response = await self.transport().send(request, self.spec.endpoint, self.spec.timeout)
        except UpstreamError as exc:
            raise AuthUnavailable(f"the introspection endpoint did not answer: {type(exc).__name__}") from None
        if response.status != 200:
            raise AuthUnavailable(f"the introspection endpoint answered {response.status}")
        try:
            body = load_json(response.body, what="the introspection answer", max_bytes=MAX_ANSWER_BYTES)
        except UntrustedInputError as exc:
            raise AuthUnavailable(str(exc)) from None
        try:
            identity, until = read_answer(body, self.policy, now)
        except InvalidToken as exc:
            return CachedAnswer(None, exc.description), now + NEGATIVE_TTL
        return CachedAnswer(identity), until


def introspector(
    spec: Introspection,
    state: AuthState,
    transport: Callable[[], Transport],
    credentials: Callable[[], CredentialSource],
) -> Introspector:
    cache = state.introspection_cache(spec.endpoint, spec.cache_size)
    return Introspector(spec, transport, credentials, cache)
