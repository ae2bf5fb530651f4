"""The inbound AuthorizationPolicy filter: allow or deny on the verified peer identity, live with config."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping

from portico.core.chain import Context, Handler, answer
from portico.core.config.configset import ConfigSet
from portico.core.headers import Headers
from portico.core.http import Response
from portico.core.mtls.authz import PolicySet, RequestFacts, Workload, policy_path
from portico.core.mtls.spiffe import SpiffeId
from portico.core.problem import problem
from portico.mesh.attrs import SPIFFE_ID

log = logging.getLogger("portico.mesh.authz")


class HeaderView(Mapping[str, str]):
    """The request's headers as policy conditions read them: the first value of each, by lower-case name."""

    def __init__(self, headers: Headers) -> None:
        self._headers = headers

    def __getitem__(self, name: str) -> str:
        value = self._headers.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(name for name, _ in self._headers))

    def __len__(self) -> int:
        return len(dict.fromkeys(name for name, _ in self._headers))


class AuthorizationFilter:
    """Runs after PeerIdentityFilter. The policy set is recompiled only when the config version changes, so a
    policy change applies to the next request without a restart and costs nothing per request otherwise."""

    def __init__(
        self,
        config: Callable[[], tuple[int, ConfigSet]],
        workload: Workload,
        port: int | None = None,
        on_deny: Callable[[], None] | None = None,
        on_dry_run: Callable[[bool], None] | None = None,
    ) -> None:
        self._config = config
        self._workload = workload
        self._port = port
        self._on_deny = on_deny
        self._on_dry_run = on_dry_run
        self._version: int | None = None
        self._policies = PolicySet()

    def policies(self) -> PolicySet:
        version, config = self._config()
        if version != self._version:
            self._policies = PolicySet.for_workload(config.authorization_policies.values(), self._workload)
            self._version = version
        return self._policies

    def __call__(self, ctx: Context, next: Handler) -> Awaitable[Response]:
        peer: SpiffeId | None = ctx.attrs.get(SPIFFE_ID)
        if peer is None:  # unreachable behind mTLS; policies are never evaluated on an unverified caller
            return answer(problem(403, "RBAC: access denied (no verified peer identity)", request_id=ctx.request_id))
        policies = self.policies()
        if policies.allows_all:  # no policy for this workload: nothing to match the request against
            return next(ctx)
        req = ctx.request
        facts = RequestFacts(
            peer,
            req.method,
            policy_path(req.path),
            req.host or req.headers.get("host") or "",
            self._port,
            source_ip=req.source_ip,
            headers=HeaderView(req.headers),
            claims=ctx.attrs.get("claims"),
        )
        decision = policies.evaluate(facts)
        if decision.shadow is not None:
            # istio.io/dry-run: reported, never enforced
            shadow = decision.shadow
            log.info(
                "dry-run: %s %s from %s would be %s (%s); enforced: %s",
                req.method,
                req.path,
                peer,
                "allowed" if shadow.allowed else "denied",
                shadow.reason,
                "allowed" if decision.allowed else "denied",
            )
            if self._on_dry_run is not None:
                self._on_dry_run(shadow.allowed)
        if not decision.allowed:
            log.debug("denied %s %s from %s: %s", req.method, req.path, peer, decision.reason)
            if self._on_deny is not None:
                self._on_deny()
            # Like Istio, the caller learns it was denied, not which policy matched.
            return answer(problem(403, "RBAC: access denied", request_id=ctx.request_id))
        return next(ctx)
