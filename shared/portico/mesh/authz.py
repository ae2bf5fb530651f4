"""The inbound AuthorizationPolicy filter: allow or deny on the verified peer identity, live with config."""

from __future__ import annotations

import logging
from collections.abc import Callable

from portico.core.chain import Context, Handler
from portico.core.config.configset import ConfigSet
from portico.core.http import Response
from portico.core.mtls.authz import PolicySet, RequestFacts, Workload, policy_path
from portico.core.mtls.spiffe import SpiffeId
from portico.core.problem import problem
from portico.mesh.attrs import SPIFFE_ID

log = logging.getLogger("portico.mesh.authz")


class AuthorizationFilter:
    """Runs after PeerIdentityFilter. The policy set is recompiled only when the config version changes, so a
    policy change applies to the next request without a restart and costs nothing per request otherwise."""

    def __init__(
        self,
        config: Callable[[], tuple[int, ConfigSet]],
        workload: Workload,
        port: int | None = None,
        on_deny: Callable[[], None] | None = None,
    ) -> None:
        self._config = config
        self._workload = workload
        self._port = port
        self._on_deny = on_deny
        self._version: int | None = None
        self._policies = PolicySet()

    def policies(self) -> PolicySet:
        version, config = self._config()
        if version != self._version:
            self._policies = PolicySet.for_workload(config.authorization_policies.values(), self._workload)
            self._version = version
        return self._policies

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        peer: SpiffeId | None = ctx.attrs.get(SPIFFE_ID)
        if peer is None:  # unreachable behind mTLS; policies are never evaluated on an unverified caller
            return problem(403, "RBAC: access denied (no verified peer identity)", request_id=ctx.request_id)
        req = ctx.request
        facts = RequestFacts(
            peer, req.method, policy_path(req.path), req.host or req.headers.get("host") or "", self._port
        )
        decision = self.policies().evaluate(facts)
        if not decision.allowed:
            log.debug("denied %s %s from %s: %s", req.method, req.path, peer, decision.reason)
            if self._on_deny is not None:
                self._on_deny()
            # Like Istio, the caller learns it was denied, not which policy matched.
            return problem(403, "RBAC: access denied", request_id=ctx.request_id)
        return await next(ctx)
