"""The signed-in part of the developer portal, under /_portico/portal/ (docs/portal.md).

| path | what |
|---|---|
| GET  login | starts OIDC sign-in: state, nonce and PKCE verifier in a sealed, short-lived cookie, 302 to the issuer |
| GET  callback | checks state, exchanges the code, verifies the ID token, sets the session cookie, 302 to the docs |
| POST logout | ends the session |
| GET  api/me | the consumer, its plan in words, its keys (never their hashes), and the CSRF token |
| POST api/keys | a new key, shown once in this answer only |
| POST api/keys/{id}/rotate, api/keys/{id}/revoke | act on one of the caller's own keys |
| GET  api/usage | the caller's counters in the current windows of its plan: one batched read, no scan |

Every state-changing call needs the session's CSRF token in `X-CSRF-Token`, and an `Origin`, when sent, equal to
the portal's own. Every lookup starts from the session's subject, so a consumer can only reach its own keys.
Built once per config version; per request only the dispatch below runs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from portico.core.chain import Context, Handler
from portico.core.config.configset import ConfigSet
from portico.core.config.documents import Consumer, Issuer, RateLimitPolicy
from portico.core.config.metadata import Metadata
from portico.core.config.portal import PortalSpec
from portico.core.config.ratelimit import Limit, RateLimitPolicySpec
from portico.core.headers import Headers
from portico.core.http import Response
from portico.core.portal import accounts
from portico.core.portal.accounts import AccountError
from portico.core.portal.session import SessionKeyError, random_token, same_token, seal, unseal
from portico.core.ports import ConcurrentChange, StoreUnavailable
from portico.core.problem import problem
from portico.core.quota.usage import UsageError, consumer_plan, usage_keys, usage_rows
from portico.core.untrusted import UntrustedInputError, load_json
from portico.edge.filters import attrs
from portico.edge.filters.ratelimit import RateLimitFilter
from portico.edge.portal.backend import PortalBackend
from portico.edge.portal.oidc import SignInError, authorization_url, exchange_code, verify_id_token

log = logging.getLogger("portico.portal")

PREFIX = "/_portico/portal/"
SESSION_PATH = "/_portico/portal"
DOCS = "/_portico/docs"
LOGIN_TTL = 600.0
MAX_BODY = 4096
DEFAULT_LIMIT_POLICY = "portico-portal-default"
_SESSION, _LOGIN = "portal-session", "portal-login"


@dataclass(frozen=True, slots=True)
class _PortalRoute:
    """What RateLimitFilter reads from a route: the portal's own endpoints are limited by the same filter."""

    @dataclass(frozen=True, slots=True)
    class Spec:
        rate_limit: str

    spec: Spec


def _json(status: int, payload: Any, headers: Headers | None = None) -> Response:
    out = headers or Headers()
    out.set("content-type", "application/json")
    out.set("cache-control", "no-store")  # keys and account data never sit in a shared or browser cache
    return Response(status, out, json.dumps(payload, separators=(",", ":")).encode())


def _plan_words(config: ConfigSet, plan: str | None) -> str:
    policy = config.rate_limit_policies.get(plan) if plan else None
    if policy is None:
        return "no plan: requests are not limited per consumer"
    from portico.core.config.base import format_duration

    parts = [f"{lim.requests:,} requests per {format_duration(lim.window)}" for lim in policy.spec.limits]
    return ", ".join(parts)


class PortalApp:
    def __init__(self, config: ConfigSet, version: int, backend: PortalBackend) -> None:
        self._config = config
        self._version = version
        self._backend = backend
        self._portal: PortalSpec | None = config.portal.spec if config.portal is not None else None
        self._issuer: Issuer | None = None
        if self._portal is not None:
            self._issuer = config.issuers.get(self._portal.sign_in.issuer)
            self._secure = urlsplit(self._portal.sign_in.redirect_uri).scheme == "https"
            self._origin = "{0.scheme}://{0.netloc}".format(urlsplit(self._portal.sign_in.redirect_uri))
            # scoped to the portal's own path, so API calls never carry it upstream; __Secure- needs https
            self._cookie = "__Secure-portico_session" if self._secure else "portico_session"
        self._limiter = self._rate_limit_filter(config)
        self._api: dict[tuple[str, str], Callable[[Context, Consumer | None, dict[str, Any]], Awaitable[Response]]]
        self._api = {("GET", "me"): self._me, ("POST", "keys"): self._create, ("GET", "usage"): self._usage}

    def _rate_limit_filter(self, config: ConfigSet) -> RateLimitFilter:
        name = self._portal.rate_limit if self._portal is not None else None
        if name is None:
            name = DEFAULT_LIMIT_POLICY  # 60 a minute per client address, failing open like any default policy
            spec = RateLimitPolicySpec(key="ip", limits=[Limit(requests=60, window="1m")])
            meta = Metadata(name=name)
            doc = RateLimitPolicy(api_version="portico/v1", kind="RateLimitPolicy", metadata=meta, spec=spec)
            config = ConfigSet.of([*config.documents(), doc])
        self._limit_route = _PortalRoute(_PortalRoute.Spec(name))
        return RateLimitFilter(config, self._backend.quota)

    async def __call__(self, ctx: Context) -> Response:
        if self._portal is None or self._issuer is None:
            return problem(404, "portal sign-in is not configured (no Portal document)", request_id=ctx.request_id)
        ctx.attrs[attrs.ROUTE] = self._limit_route
        return await self._limiter(ctx, self._dispatch)

    async def _dispatch(self, ctx: Context) -> Response:
        path = ctx.request.route_path[len(PREFIX) :]
        method = ctx.request.method
        try:
            if path == "login" and method == "GET":
                return self._login(ctx)
            if path == "callback" and method == "GET":
                return await self._callback(ctx)
            if path == "logout" and method == "POST":
                return self._logout(ctx)
            if path.startswith("api/"):
                return await self._call_api(ctx, method, path[4:])
        except AccountError as exc:
            return problem(exc.status, str(exc), request_id=ctx.request_id)
        except SessionKeyError as exc:
            log.error("portal session key unavailable", extra={"reason": str(exc), "requestId": ctx.request_id})
            detail = (
                "portal sign-in is not available: its session key or client secret is not configured or cannot be read"
            )
            return problem(503, detail, request_id=ctx.request_id)
        except (StoreUnavailable, ConcurrentChange) as exc:
            log.warning("portal store unavailable", extra={"reason": str(exc), "requestId": ctx.request_id})
            return problem(503, "the portal cannot reach its store; try again shortly", request_id=ctx.request_id)
        return problem(404, "no such portal resource", request_id=ctx.request_id)

    # ------------------------------------------------------------------ sign-in
    def _login(self, ctx: Context) -> Response:
        assert self._portal is not None and self._issuer is not None
        rng = self._backend.rng
        state, nonce, verifier = random_token(rng(32)), random_token(rng(32)), random_token(rng(32))
        sealed = seal(_LOGIN, {"s": state, "n": nonce, "v": verifier}, self._backend.session_key(), ctx.now + LOGIN_TTL)
        url = authorization_url(self._issuer, self._portal.sign_in, state, nonce, verifier)
        # Lax: the issuer sends the browser back with a top-level GET from its own site
        cookie = self._set_cookie("portico_login", sealed, int(LOGIN_TTL), "Lax", "/_portico/portal/callback")
        return Response(302, Headers([("location", url), ("cache-control", "no-store")]), b"", [cookie])

    async def _callback(self, ctx: Context) -> Response:
        assert self._portal is not None and self._issuer is not None
        login = unseal(_LOGIN, self._cookie_value(ctx, "portico_login") or "", self._backend.session_key(), ctx.now)
        code, state = ctx.request.query_get("code"), ctx.request.query_get("state")
        if ctx.request.query_get("error") is not None:
            return problem(401, "the issuer did not sign you in", request_id=ctx.request_id)
        if login is None or not code or not same_token(state, str(login.get("s", ""))):
            detail = "sign-in state is missing, expired or does not match; start again"
            return problem(400, detail, request_id=ctx.request_id)
        try:
            id_token = await exchange_code(
                self._backend.transport(),
                self._issuer,
                self._portal.sign_in,
                code,
                str(login["v"]),
                self._backend.client_secret(),
            )
            who = await verify_id_token(
                self._backend.key_sources, self._issuer, self._portal.sign_in, id_token, str(login["n"]), ctx.now
            )
        except SignInError as exc:
            log.warning("portal sign-in failed", extra={"reason": str(exc), "requestId": ctx.request_id})
            return problem(401, f"sign-in failed: {exc}", request_id=ctx.request_id)
        session = {"sub": who.subject, "csrf": random_token(self._backend.rng(32))}
        sealed = seal(_SESSION, session, self._backend.session_key(), ctx.now + self._portal.session_ttl)
        cookies = [
            self._set_cookie(self._cookie, sealed, int(self._portal.session_ttl), "Strict", SESSION_PATH),
            self._set_cookie("portico_login", "", 0, "Lax", "/_portico/portal/callback"),
        ]
        return Response(302, Headers([("location", DOCS), ("cache-control", "no-store")]), b"", cookies)

    def _logout(self, ctx: Context) -> Response:
        session = self._session(ctx)
        if session is None or not self._csrf_ok(ctx, session):
            return problem(403, "a signed-in session and its CSRF token are required", request_id=ctx.request_id)
        cleared = self._set_cookie(self._cookie, "", 0, "Strict", SESSION_PATH)
        return Response(204, Headers([("cache-control", "no-store")]), b"", [cleared])

    # ------------------------------------------------------------------ the account API
    async def _call_api(self, ctx: Context, method: str, path: str) -> Response:
        session = self._session(ctx)
        if session is None:
            return _json(401, {"signedIn": False, "signIn": PREFIX + "login"})
        if method != "GET" and not self._csrf_ok(ctx, session):
            return problem(403, "missing or wrong CSRF token, or a cross-origin request", request_id=ctx.request_id)
        consumer = self._own_consumer(str(session["sub"]))
        handler = self._api.get((method, path))
        if handler is not None:
            return await handler(ctx, consumer, session)
        parts = path.split("/")
        if method == "POST" and len(parts) == 3 and parts[0] == "keys" and parts[2] in ("rotate", "revoke"):
            if consumer is None:
                raise AccountError(404, "no such active key")
            return await self._key_action(ctx, consumer, session, parts[1], parts[2])
        return problem(404, "no such portal resource", request_id=ctx.request_id)

    def _own_consumer(self, subject: str) -> Consumer | None:
        served = accounts.find_consumer(self._config.consumers, subject)
        assert self._issuer is not None
        name = served.metadata.name if served is not None else accounts.consumer_name(self._issuer.spec.issuer, subject)
        return self._backend.consumer(name, self._version, served)

    async def _me(self, ctx: Context, consumer: Consumer | None, session: dict[str, Any]) -> Response:
        assert self._portal is not None and self._issuer is not None
        account = consumer or await self._sign_up(str(session["sub"]), ctx.now)
        return _json(
            200,
            {
                "signedIn": True,
                "consumer": account.metadata.name,
                "status": account.spec.status,
                "plan": account.spec.plan,
                "planText": _plan_words(self._config, account.spec.plan),
                "maxKeys": self._portal.max_keys,
                "keys": accounts.key_views(account),
                "csrf": session["csrf"],
            },
        )

    async def _sign_up(self, subject: str, now: float) -> Consumer:
        """The first visit after sign-in: a Consumer with the portal's plan and approval rule."""
        assert self._portal is not None and self._issuer is not None
        fresh = accounts.sign_up(self._portal, self._issuer.spec.issuer, subject)

        def sign_up(current: Consumer | None) -> tuple[Consumer, Consumer]:
            chosen = current or fresh  # another tab may have signed up first: keep what is stored
            return chosen, chosen

        _, account = await self._backend.save(
            fresh.metadata.name, None, sign_up, who=_who(subject), at=now, note="sign-up"
        )
        log.info("portal consumer signed up", extra={"consumer": account.metadata.name, "status": account.spec.status})
        return account

    async def _create(self, ctx: Context, consumer: Consumer | None, session: dict[str, Any]) -> Response:
        assert self._portal is not None
        if consumer is None:
            raise AccountError(409, "load your account first")
        label = self._label(ctx)
        portal, rng, now = self._portal, self._backend.rng, ctx.now
        key_id = "key-" + rng(4).hex()

        def change(current: Consumer | None) -> tuple[Consumer, accounts.NewKey]:
            made = accounts.create_key(current or consumer, portal, label, rng(32), key_id, now)
            return made.consumer, made

        _, made = await self._backend.save(
            consumer.metadata.name, consumer, change, who=_who(session["sub"]), at=now, note=f"create {key_id}"
        )
        log.info("portal key created", extra={"consumer": consumer.metadata.name, "keyId": key_id})
        return _json(201, {"id": made.key_id, "key": made.key, "note": "shown only now; store it safely"})

    async def _key_action(
        self, ctx: Context, consumer: Consumer, session: dict[str, Any], key_id: str, action: str
    ) -> Response:
        rng, now = self._backend.rng, ctx.now
        if action == "revoke":

            def revoke(current: Consumer | None) -> tuple[Consumer, None]:
                return accounts.revoke_key(current or consumer, key_id), None

            await self._backend.save(
                consumer.metadata.name, consumer, revoke, who=_who(session["sub"]), at=now, note=f"revoke {key_id}"
            )
            log.info("portal key revoked", extra={"consumer": consumer.metadata.name, "keyId": key_id})
            return _json(200, {"id": key_id, "status": "revoked"})
        new_id = "key-" + rng(4).hex()

        def rotate(current: Consumer | None) -> tuple[Consumer, accounts.NewKey]:
            made = accounts.rotate_key(current or consumer, key_id, rng(32), new_id, now)
            return made.consumer, made

        _, made = await self._backend.save(
            consumer.metadata.name,
            consumer,
            rotate,
            who=_who(session["sub"]),
            at=now,
            note=f"rotate {key_id} to {new_id}",
        )
        log.info("portal key rotated", extra={"consumer": consumer.metadata.name, "keyId": key_id, "newKeyId": new_id})
        return _json(200, {"id": made.key_id, "key": made.key, "replaces": key_id, "note": "shown only now"})

    async def _usage(self, ctx: Context, consumer: Consumer | None, session: dict[str, Any]) -> Response:
        if consumer is None:
            raise AccountError(409, "load your account first")
        config = self._config
        if consumer.metadata.name not in config.consumers:  # signed up since this config version was loaded
            config = ConfigSet.of([*config.documents(), consumer])
        try:
            policy, partitions = consumer_plan(config, consumer.metadata.name)
        except UsageError as exc:
            return _json(200, {"policy": None, "windows": [], "note": str(exc)})
        keys = [key for p in partitions for key in usage_keys(policy, p, ctx.now)]
        counts = await self._backend.quota().store.counts(keys)  # one BatchGetItem: a read per window, no scan
        rows = [row for p in partitions for row in usage_rows(policy, p, ctx.now, counts)]
        windows = [
            {
                "limit": r.limit,
                "window": r.window,
                "used": r.used,
                "requests": r.requests,
                "remaining": r.remaining,
                "resetsIn": r.resets_in,
            }
            for r in rows
        ]
        return _json(200, {"policy": policy.name, "mode": policy.mode, "windows": windows})

    # ------------------------------------------------------------------ helpers
    def _label(self, ctx: Context) -> str:
        body = ctx.request.body
        if not body:
            return ""
        try:
            data = load_json(body, what="the body", max_bytes=MAX_BODY, max_depth=4)
        except UntrustedInputError as exc:
            raise AccountError(400, str(exc)) from None
        label = data.get("label", "") if isinstance(data, dict) else None
        if not isinstance(label, str) or len(label) > 64 or any(ord(c) < 32 for c in label):
            raise AccountError(400, "label is a string of at most 64 printable characters")
        return label.strip()

    def _session(self, ctx: Context) -> dict[str, Any] | None:
        value = self._cookie_value(ctx, self._cookie)
        if not value:
            return None
        session = unseal(_SESSION, value, self._backend.session_key(), ctx.now)
        if session is None or not isinstance(session.get("sub"), str) or not isinstance(session.get("csrf"), str):
            return None
        return session

    def _csrf_ok(self, ctx: Context, session: dict[str, Any]) -> bool:
        origin = ctx.request.headers.get("origin")
        if origin is not None and origin != self._origin:
            return False
        return same_token(ctx.request.headers.get("x-csrf-token"), str(session["csrf"]))

    @staticmethod
    def _cookie_value(ctx: Context, name: str) -> str | None:
        found = None
        for raw in ctx.request.cookies:
            for part in raw.split(";"):
                key, sep, value = part.strip().partition("=")
                if sep and key == name:
                    if found is not None:
                        return None  # two cookies of one name (a planted one): trust neither
                    found = value
        return found

    def _set_cookie(self, name: str, value: str, max_age: int, same_site: str, path: str) -> str:
        secure = "; Secure" if self._secure else ""
        return f"{name}={value}; Max-Age={max_age}; Path={path}; HttpOnly{secure}; SameSite={same_site}"


def portal_handler(config: ConfigSet, version: int, backend: PortalBackend) -> Handler:
    return PortalApp(config, version, backend)


def _who(subject: object) -> str:
    """Who a portal change is recorded as in `portico history`: the signed-in subject, marked as a portal user."""
    return f"portal:{subject}"
