"""AuthorizationPolicy evaluation on the verified peer identity: DENY first, then ALLOW, no policy means allow.

The semantics are Istio's: within a field, values are ORed; fields of one source or operation are ANDed; a rule
matches when one of its `from` entries and one of its `to` entries match (an absent list matches anything);
a policy matches when any rule does. An ALLOW policy with no rules matches nothing, so `spec: {}` allows nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from portico.core.config.istio_security import Operation, Rule, Source
from portico.core.config.mesh_documents import AuthorizationPolicy
from portico.core.mtls.spiffe import SpiffeId, principal_matches, string_matches


@dataclass(frozen=True, slots=True)
class Workload:
    """The workload a sidecar protects: policies select it by namespace and labels."""

    namespace: str
    labels: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What a policy may look at. `peer` is the identity proven by the mTLS handshake, never a header."""

    peer: SpiffeId
    method: str
    path: str  # as policy_path() gives it: no query, dot segments resolved
    host: str = ""
    port: int | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str


@dataclass(frozen=True, slots=True)
class PolicySet:
    """The policies that apply to one workload, split by action; built once per config version."""

    deny: Sequence[AuthorizationPolicy] = ()
    allow: Sequence[AuthorizationPolicy] = ()

    @classmethod
    def for_workload(cls, policies: Iterable[AuthorizationPolicy], workload: Workload) -> PolicySet:
        chosen = [p for p in policies if _applies(p, workload)]
        chosen.sort(key=lambda p: p.metadata.name)  # deterministic reasons regardless of store order
        return cls(
            deny=tuple(p for p in chosen if p.spec.action == "DENY"),
            allow=tuple(p for p in chosen if p.spec.action == "ALLOW"),
        )

    def evaluate(self, facts: RequestFacts) -> Decision:
        for policy in self.deny:
            if _policy_matches(policy, facts):
                return Decision(False, f"denied by AuthorizationPolicy {policy.metadata.name}")
        if not self.allow:
            return Decision(True, "no ALLOW policy applies")
        for policy in self.allow:
            if _policy_matches(policy, facts):
                return Decision(True, f"allowed by AuthorizationPolicy {policy.metadata.name}")
        return Decision(False, "no ALLOW policy matched")


def _applies(policy: AuthorizationPolicy, workload: Workload) -> bool:
    # A policy without a namespace is mesh-wide, like one in Istio's root namespace.
    namespace = policy.metadata.namespace
    if namespace is not None and namespace != workload.namespace:
        return False
    selector = policy.spec.selector
    if selector is None:
        return True
    return all(workload.labels.get(k) == v for k, v in selector.match_labels.items())


def _policy_matches(policy: AuthorizationPolicy, facts: RequestFacts) -> bool:
    return any(_rule_matches(rule, facts) for rule in policy.spec.rules)


def _rule_matches(rule: Rule, facts: RequestFacts) -> bool:
    if rule.from_ and not any(_source_matches(f.source, facts.peer) for f in rule.from_):
        return False
    return not rule.to or any(_operation_matches(t.operation, facts) for t in rule.to)


def _source_matches(source: Source, peer: SpiffeId) -> bool:
    return _field(source.principals, source.not_principals, lambda p: principal_matches(p, peer)) and _field(
        source.namespaces, source.not_namespaces, lambda n: string_matches(n, peer.namespace)
    )


def _operation_matches(op: Operation, facts: RequestFacts) -> bool:
    path = facts.path
    port = "" if facts.port is None else str(facts.port)
    host = facts.host.lower()
    return (
        _field(op.methods, op.not_methods, lambda m: string_matches(m, facts.method))
        and _field(op.paths, op.not_paths, lambda p: string_matches(p, path))
        and _field(op.hosts, (), lambda h: string_matches(h.lower(), host))
        and _field(op.ports, (), lambda p: p == port)
    )


def _field(values: Sequence[str], not_values: Sequence[str], matches: Callable[[str], bool]) -> bool:
    """Istio field semantics: one of `values` must match (if given) and none of `not_values` may."""
    if values and not any(matches(v) for v in values):
        return False
    return not any(matches(v) for v in not_values)


def policy_path(raw: str) -> str:
    """The path policies see: query dropped, encoded `.`/`/`/`\\` decoded, dot segments resolved, `//` merged.

    This is Istio's BASE + MERGE_SLASHES normalisation, so `/public/..%2Fcharge` cannot slip past a `/charge` rule.
    """
    path = raw.split("?", 1)[0].split("#", 1)[0]
    for encoded, plain in (("%2e", "."), ("%2f", "/"), ("%5c", "/"), ("\\", "/")):
        path = path.replace(encoded, plain).replace(encoded.upper(), plain)
    out: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if out:
                out.pop()
            continue
        out.append(segment)
    trailing = "/" if path.endswith(("/", "/.", "/..")) and out else ""
    return "/" + "/".join(out) + trailing
