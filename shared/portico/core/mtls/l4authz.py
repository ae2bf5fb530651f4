"""AuthorizationPolicy on opaque TCP connections: Istio's rule for fields a TCP connection does not have.

A connection has a peer identity, a source address and a destination port, but no method, path, host, headers
or request claims. As in Istio, an ALLOW rule that needs any of those never matches a TCP connection (it would
allow more than it says), while a DENY rule has those fields dropped and is enforced on the rest (it denies more,
never less). The rewritten PolicySet is then evaluated like any other, once per connection.
"""

from __future__ import annotations

from portico.core.config.istio_security import Rule, RuleTo
from portico.core.config.mesh_documents import AuthorizationPolicy
from portico.core.mtls.authz import PolicySet, RequestFacts
from portico.core.mtls.spiffe import SpiffeId

_HTTP_KEYS = ("request.headers[", "request.auth.")


def _http_only(rule: Rule) -> bool:
    ops = [t.operation for t in rule.to]
    return any(op.methods or op.not_methods or op.paths or op.not_paths or op.hosts for op in ops) or any(
        c.key.startswith(_HTTP_KEYS) for c in rule.when
    )


def _tcp_part(rule: Rule) -> Rule:
    to = [
        RuleTo(
            operation=t.operation.model_copy(
                update={"methods": [], "not_methods": [], "paths": [], "not_paths": [], "hosts": []}
            )
        )
        for t in rule.to
    ]
    when = [c for c in rule.when if not c.key.startswith(_HTTP_KEYS)]
    return rule.model_copy(update={"to": to, "when": when})


def _rewrite(policy: AuthorizationPolicy, deny: bool) -> AuthorizationPolicy:
    rules = [(_tcp_part(r) if deny else None) if _http_only(r) else r for r in policy.spec.rules]
    kept = [r for r in rules if r is not None]  # an ALLOW policy left with no rule matches no connection
    spec = policy.spec.model_copy(update={"rules": kept})
    return policy.model_copy(update={"spec": spec})


def for_connections(policies: PolicySet) -> PolicySet:
    """The same policies, as they read for a TCP connection."""
    return PolicySet(
        deny=tuple(_rewrite(p, deny=True) for p in policies.deny),
        allow=tuple(_rewrite(p, deny=False) for p in policies.allow),
        dry_run=for_connections(policies.dry_run) if policies.dry_run is not None else None,
    )


def connection_facts(peer: SpiffeId, port: int, source_ip: str) -> RequestFacts:
    return RequestFacts(peer, method="", path="", port=port, source_ip=source_ip)
