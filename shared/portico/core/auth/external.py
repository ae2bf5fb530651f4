"""External authorisation, pure parts: identity sources, the two wire contracts, and the decision cache.

- Lambda REQUEST authorizer, API Gateway HTTP API payload 2.0: the event carries `identitySource` (the values of
  the configured sources), `routeArn`, the request's headers, query and path parameters. The answer is the simple
  form `{"isAuthorized": bool, "context": {...}}` or the IAM-policy form (`principalId`, `policyDocument`,
  `context`), as API Gateway accepts both.
- Envoy ext_authz over HTTP: the authorisation service gets the request's method and path with the allowed
  headers and an empty body; a 2xx allows, anything else denies with the service's status and body.

Decisions are cached by a SHA-256 of the identity-source values, never the values (they hold credentials).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from portico.core.compose.lru import TtlLru
from portico.core.headers import Headers
from portico.core.http import Request, Response

_SOURCE_PREFIXES = {"$request.header.": "header", "$request.querystring.": "query"}
MAX_CONTEXT_VALUE = 1024


class InvalidDecision(ValueError):
    """The authoriser answered something neither contract allows; treated as a failure (deny by default)."""


def parse_identity_source(text: str) -> tuple[str, str]:
    """`$request.header.Authorization` -> ("header", "authorization"); `$request.querystring.token` likewise."""
    for prefix, kind in _SOURCE_PREFIXES.items():
        if text.startswith(prefix) and len(text) > len(prefix):
            name = text[len(prefix) :]
            return kind, name.lower() if kind == "header" else name
    raise ValueError(f"identity source {text!r}: write $request.header.NAME or $request.querystring.NAME")


def identity_values(request: Request, sources: Sequence[tuple[str, str]]) -> tuple[str, ...] | None:
    """The values of every identity source, or None when one is missing or empty (then the request is 401
    without calling the authoriser, as API Gateway does)."""
    values: list[str] = []
    for kind, name in sources:
        value = request.headers.get(name) if kind == "header" else request.query_get(name)
        if not value:
            return None
        values.append(value)
    return tuple(values)


def cache_key(scope: str, values: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for part in (scope, *values):
        digest.update(part.encode("utf-8", "surrogateescape"))
        digest.update(b"\x00")
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Decision:
    """An authoriser's answer. On allow, `upstream_headers` go to the upstream and `context` is forwarded too."""

    allowed: bool
    principal: str | None = None
    context: Mapping[str, str] = field(default_factory=dict)
    upstream_headers: tuple[tuple[str, str], ...] = ()
    denial: Response | None = None  # the ext_authz service's own denial, passed to the client


def _context(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidDecision("context must be an object")
    out: dict[str, str] = {}
    for key, value in raw.items():
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        out[str(key)] = text[:MAX_CONTEXT_VALUE]
    return out


def lambda_decision(result: Any) -> Decision:
    """Read a REQUEST authorizer's answer, simple or IAM-policy form; anything else is InvalidDecision."""
    if not isinstance(result, dict):
        raise InvalidDecision("the authorizer's answer is not an object")
    if "isAuthorized" in result:
        if not isinstance(result["isAuthorized"], bool):
            raise InvalidDecision("isAuthorized must be true or false")
        context = _context(result.get("context"))
        return Decision(result["isAuthorized"], context.get("principalId"), context)
    policy = result.get("policyDocument")
    if not isinstance(policy, dict) or not isinstance(policy.get("Statement"), list):
        raise InvalidDecision("neither isAuthorized nor a policyDocument with Statement")
    effects = []
    for statement in policy["Statement"]:
        if not isinstance(statement, dict) or statement.get("Effect") not in ("Allow", "Deny"):
            raise InvalidDecision("every Statement needs Effect Allow or Deny")
        if statement.get("Action") in ("execute-api:Invoke", ["execute-api:Invoke"], "*"):
            effects.append(statement["Effect"])
    principal = result.get("principalId")
    allowed = "Allow" in effects and "Deny" not in effects  # an explicit Deny wins, as in IAM
    return Decision(allowed, str(principal) if principal is not None else None, _context(result.get("context")))


def check_request(request: Request, path: str, allowed_headers: Sequence[str], url_path: str) -> tuple[Request, str]:
    """The ext_authz check request: the original method and path (after the service URL's path prefix), the
    allowed headers, no body. Returns the request and the target path to append to the service URL."""
    headers = Headers()
    for name in allowed_headers:
        for value in request.headers.get_all(name):
            headers.add(name, value)
    headers.set("x-forwarded-for", request.source_ip)
    headers.set("x-forwarded-host", request.host or request.headers.get("host") or "")
    target = url_path.rstrip("/") + path
    return Request(method=request.method, path=target, headers=headers, host=request.host), target


def http_decision(response: Response, upstream_names: Sequence[str]) -> Decision:
    """2xx allows and copies the listed response headers to the upstream request; anything else is a denial
    passed to the client with the service's status, body and content type (Envoy's behaviour)."""
    if 200 <= response.status < 300:
        wanted = {n.lower() for n in upstream_names}
        headers = tuple((k, v) for k, v in response.headers if k in wanted)
        return Decision(True, upstream_headers=headers)
    status = response.status if 400 <= response.status <= 599 else 403
    denial_headers = Headers()
    content_type = response.headers.get("content-type")
    if content_type:
        denial_headers.set("content-type", content_type)
    for name in ("www-authenticate", "location"):
        for value in response.headers.get_all(name):
            denial_headers.add(name, value)
    return Decision(False, denial=Response(status, denial_headers, response.body[:65536]))


class DecisionCache:
    """Cached decisions by hashed identity values, bounded, with the authoriser's TTL (0 turns caching off)."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._lru: TtlLru[str, Decision] = TtlLru(max_entries)

    def get(self, key: str, now: float) -> Decision | None:
        entry = self._lru.get(key, now)
        return entry.value if entry is not None else None

    def put(self, key: str, decision: Decision, now: float, ttl: float) -> None:
        self._lru.put(key, decision, now, ttl)
