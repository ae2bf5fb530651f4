"""AuthorizationPolicy evaluation on the verified peer identity: DENY first, then ALLOW, no policy means allow.

The semantics are Istio's: within a field, values are ORed; fields of one source or operation are ANDed; a rule
matches when one of its `from` entries and one of its `to` entries match (an absent list matches anything);
a policy matches when any rule does. An ALLOW policy with no rules matches nothing, so `spec: {}` allows nothing.
A rule's `when` conditions are ANDed too. A policy annotated `istio.io/dry-run: "true"` is never enforced: it is
evaluated on the side, and what it would have decided is reported (logged and counted), as Istio's shadow rules.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from portico.core.config.istio_security import Condition, Operation, Rule, Source
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
    source_ip: str = ""  # the TCP peer's address (the calling sidecar)
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names; the first value of each
    claims: Mapping[str, Any] | None = None  # verified request claims, when a filter before this one verified any


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str
    shadow: Decision | None = None  # what the dry-run policies would have decided, when any applies


DRY_RUN_ANNOTATION = "istio.io/dry-run"


def is_dry_run(policy: AuthorizationPolicy) -> bool:
    return policy.metadata.annotations.get(DRY_RUN_ANNOTATION, "").strip().lower() == "true"


@dataclass(frozen=True, slots=True)
class PolicySet:
    """The policies that apply to one workload, split by action; built once per config version."""

    deny: Sequence[AuthorizationPolicy] = ()
    allow: Sequence[AuthorizationPolicy] = ()
    dry_run: PolicySet | None = None  # the `istio.io/dry-run` policies, evaluated only to be reported

    @classmethod
    def for_workload(cls, policies: Iterable[AuthorizationPolicy], workload: Workload) -> PolicySet:
        chosen = [p for p in policies if _applies(p, workload)]
        chosen.sort(key=lambda p: p.metadata.name)  # deterministic reasons regardless of store order
        enforced = [p for p in chosen if not is_dry_run(p)]
        shadow = [p for p in chosen if is_dry_run(p)]
        return cls(
            deny=tuple(p for p in enforced if p.spec.action == "DENY"),
            allow=tuple(p for p in enforced if p.spec.action == "ALLOW"),
            dry_run=cls(
                deny=tuple(p for p in shadow if p.spec.action == "DENY"),
                allow=tuple(p for p in shadow if p.spec.action == "ALLOW"),
            )
            if shadow
            else None,
        )

    @property
    def allows_all(self) -> bool:
        """No policy applies to the workload (none enforced, none in dry-run): every verified caller is allowed,
        as in Istio, and nothing needs evaluating or reporting."""
        return not self.deny and not self.allow and self.dry_run is None

    def evaluate(self, facts: RequestFacts) -> Decision:
        decision = self._decide(facts)
        if self.dry_run is None:
            return decision
        return Decision(decision.allowed, decision.reason, shadow=self.dry_run._decide(facts))

    def _decide(self, facts: RequestFacts) -> Decision:
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
    if rule.from_ and not any(_source_matches(f.source, facts) for f in rule.from_):
        return False
    if rule.to and not any(_operation_matches(t.operation, facts) for t in rule.to):
        return False
    return all(_condition_matches(c, facts) for c in rule.when)


def _source_matches(source: Source, facts: RequestFacts) -> bool:
    peer = facts.peer
    return (
        _field(source.principals, source.not_principals, lambda p: principal_matches(p, peer))
        and _field(source.namespaces, source.not_namespaces, lambda n: string_matches(n, peer.namespace))
        and _field(source.service_accounts, source.not_service_accounts, lambda a: _service_account(a, peer))
        and _field(source.ip_blocks, source.not_ip_blocks, lambda b: ip_in_block(facts.source_ip, b))
        and _field(source.trust_domains, source.not_trust_domains, lambda t: string_matches(t, peer.trust_domain))
    )


def _service_account(account: str, peer: SpiffeId) -> bool:
    """Istio's `serviceAccounts`: `ns/sa`, or `sa` in the policy's own namespace (here: any namespace)."""
    namespace, _, name = account.rpartition("/")
    return name == peer.service and (not namespace or namespace == peer.namespace)


def ip_in_block(address: str, block: str) -> bool:
    """True when `address` lies in `block` (`1.2.3.4` or `5.6.0.0/16`); an unknown address matches nothing."""
    try:
        ip = ipaddress.ip_address(address)
        network = ipaddress.ip_network(block, strict=False)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.version == network.version and ip in network


_CLAIM_PATH = re.compile(r"\[([^\[\]]+)\]")


def _attribute(key: str, facts: RequestFacts) -> list[str] | None:
    """The request's value(s) for a condition key; None when the request does not have it."""
    if key.startswith("request.headers["):
        value = facts.headers.get(key[len("request.headers[") : -1].lower())
        return None if value is None else [value]
    if key.startswith("request.auth.claims["):
        found: Any = facts.claims
        for name in _CLAIM_PATH.findall(key):
            found = found.get(name) if isinstance(found, Mapping) else None
        if isinstance(found, str):
            return [found]
        if isinstance(found, list) and all(isinstance(v, str) for v in found):
            return found  # a list claim matches when any of its elements does, as in Istio
        return None
    simple = {
        "source.ip": facts.source_ip or None,
        "source.principal": facts.peer.principal,
        "source.namespace": facts.peer.namespace,
        "destination.port": None if facts.port is None else str(facts.port),
    }
    value = simple.get(key)
    return None if value is None else [value]


def _condition_matches(condition: Condition, facts: RequestFacts) -> bool:
    actual = _attribute(condition.key, facts)
    if actual is None:  # an attribute the request lacks satisfies no value, and no notValue either
        return not condition.values
    if condition.key == "source.ip":
        test: Callable[[str], bool] = lambda v: any(ip_in_block(a, v) for a in actual)  # noqa: E731
    elif condition.key == "source.principal":
        test = lambda v: any(string_matches(v.removeprefix("spiffe://"), a) for a in actual)  # noqa: E731
    else:
        test = lambda v: any(string_matches(v, a) for a in actual)  # noqa: E731
    return _field(condition.values, condition.not_values, test)


def _operation_matches(op: Operation, facts: RequestFacts) -> bool:
    path = facts.path
    port = "" if facts.port is None else str(facts.port)
    host = facts.host.lower()
    return (
        _field(op.methods, op.not_methods, lambda m: string_matches(m, facts.method))
        and _field(op.paths, op.not_paths, lambda p: string_matches(p, path))
        and _field(op.hosts, (), lambda h: string_matches(h.lower(), host))
        and _field(op.ports, op.not_ports, lambda p: p == port)
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
