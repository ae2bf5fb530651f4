"""AuthorizationPolicy `when`, ipBlocks/notIpBlocks, serviceAccounts and the not* fields: allow and deny decisions,
and `istio.io/dry-run` policies that only report (issue 20 defects 4 and 17)."""

from __future__ import annotations

from typing import Any

import pytest

from portico.core.config.documents import AuthorizationPolicy
from portico.core.mtls.authz import PolicySet, RequestFacts, Workload, policy_path
from portico.core.mtls.spiffe import SpiffeId

PAYMENTS = Workload("default", {"app": "payments"})
ORDERS = SpiffeId("cluster.local", "default", "orders")
CATALOG = SpiffeId("cluster.local", "shop", "catalog")


def policy(action: str, rule: dict[str, Any], *, dry_run: bool = False, name: str = "p") -> AuthorizationPolicy:
    meta: dict[str, Any] = {"name": name}
    if dry_run:
        meta["annotations"] = {"istio.io/dry-run": "true"}
    spec = {"selector": {"matchLabels": {"app": "payments"}}, "action": action, "rules": [rule]}
    return AuthorizationPolicy.model_validate(
        {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy", "metadata": meta, "spec": spec}
    )


def decide(
    policies: list[AuthorizationPolicy],
    peer: SpiffeId = ORDERS,
    *,
    method: str = "GET",
    path: str = "/charge",
    ip: str = "10.0.1.5",
    headers: dict[str, str] | None = None,
    claims: dict[str, Any] | None = None,
    port: int = 8080,
) -> bool:
    facts = RequestFacts(
        ORDERS if peer is None else peer,
        method,
        policy_path(path),
        port=port,
        source_ip=ip,
        headers=headers or {},
        claims=claims,
    )
    return PolicySet.for_workload(policies, PAYMENTS).evaluate(facts).allowed


def when(key: str, values: list[str] | None = None, not_values: list[str] | None = None) -> dict[str, Any]:
    condition: dict[str, Any] = {"key": key}
    if values:
        condition["values"] = values
    if not_values:
        condition["notValues"] = not_values
    return {"when": [condition]}


def test_when_request_header_allows_and_denies() -> None:
    allow = [policy("ALLOW", when("request.headers[X-Tenant]", ["acme", "beta-*"]))]
    assert decide(allow, headers={"x-tenant": "acme"})
    assert decide(allow, headers={"x-tenant": "beta-2"})
    assert not decide(allow, headers={"x-tenant": "evil"})
    assert not decide(allow)  # an absent header satisfies no value
    deny = [policy("DENY", when("request.headers[x-debug]", ["*"]))]
    assert not decide(deny, headers={"x-debug": "1"})
    assert decide(deny)
    deny_not = [policy("DENY", when("request.headers[x-tenant]", not_values=["acme"]))]
    assert decide(deny_not, headers={"x-tenant": "acme"})
    assert not decide(deny_not, headers={"x-tenant": "other"})
    assert not decide(deny_not)  # absent: it is not acme, so the DENY applies


def test_when_source_ip_cidrs() -> None:
    allow = [policy("ALLOW", when("source.ip", ["10.0.0.0/16"], ["10.0.9.0/24"]))]
    assert decide(allow, ip="10.0.1.5")
    assert not decide(allow, ip="10.0.9.7")  # in notValues
    assert not decide(allow, ip="192.168.1.1")
    assert decide(allow, ip="::ffff:10.0.1.5")  # an IPv4-mapped peer address is its IPv4 address


def test_when_source_principal_and_namespace() -> None:
    allow = [policy("ALLOW", when("source.principal", ["spiffe://cluster.local/ns/default/sa/orders"]))]
    assert decide(allow, ORDERS)
    assert not decide(allow, CATALOG)
    deny = [policy("DENY", when("source.namespace", ["shop"]))]
    assert decide(deny, ORDERS) and not decide(deny, CATALOG)


def test_when_request_auth_claims_nested_and_lists() -> None:
    allow = [policy("ALLOW", when("request.auth.claims[groups]", ["admins"]))]
    assert decide(allow, claims={"groups": ["users", "admins"]})
    assert not decide(allow, claims={"groups": ["users"]})
    assert not decide(allow)  # no verified claims at all: like Istio without a JWT, the condition does not hold
    nested = [policy("ALLOW", when("request.auth.claims[realm][role]", ["owner"]))]
    assert decide(nested, claims={"realm": {"role": "owner"}})
    assert not decide(nested, claims={"realm": "owner"})


def test_when_destination_port() -> None:
    allow = [policy("ALLOW", when("destination.port", ["8080"]))]
    assert decide(allow, port=8080) and not decide(allow, port=9090)


def test_conditions_of_one_rule_are_anded() -> None:
    rule = {
        "when": [
            {"key": "request.headers[x-tenant]", "values": ["acme"]},
            {"key": "source.ip", "values": ["10.0.0.0/8"]},
        ]
    }
    allow = [policy("ALLOW", rule)]
    assert decide(allow, headers={"x-tenant": "acme"}, ip="10.1.1.1")
    assert not decide(allow, headers={"x-tenant": "acme"}, ip="11.1.1.1")
    assert not decide(allow, headers={"x-tenant": "other"}, ip="10.1.1.1")


def test_ip_blocks_and_not_ip_blocks() -> None:
    allow = [policy("ALLOW", {"from": [{"source": {"ipBlocks": ["10.0.0.0/8", "192.168.1.7"]}}]})]
    assert decide(allow, ip="10.200.0.1") and decide(allow, ip="192.168.1.7")
    assert not decide(allow, ip="192.168.1.8")
    deny = [policy("DENY", {"from": [{"source": {"notIpBlocks": ["10.0.0.0/8"]}}]})]
    assert decide(deny, ip="10.1.2.3")
    assert not decide(deny, ip="172.16.0.1")
    assert not decide(deny, ip="")  # no address known: it is not inside the block, so the DENY applies


def test_not_principals_not_paths_not_methods_not_ports() -> None:
    deny_others = [policy("DENY", {"from": [{"source": {"notPrincipals": ["cluster.local/ns/default/sa/orders"]}}]})]
    assert decide(deny_others, ORDERS) and not decide(deny_others, CATALOG)
    allow_but_admin = [policy("ALLOW", {"to": [{"operation": {"notPaths": ["/admin/*"]}}]})]
    assert decide(allow_but_admin, path="/charge")
    assert not decide(allow_but_admin, path="/admin/users")
    assert not decide(allow_but_admin, path="/public/..%2Fadmin/users")  # normalised before the decision
    read_only = [policy("ALLOW", {"to": [{"operation": {"notMethods": ["POST", "PUT", "DELETE", "PATCH"]}}]})]
    assert decide(read_only, method="GET") and not decide(read_only, method="POST")
    not_admin_port = [policy("ALLOW", {"to": [{"operation": {"notPorts": ["9000"]}}]})]
    assert decide(not_admin_port, port=8080) and not decide(not_admin_port, port=9000)


def test_service_accounts() -> None:
    allow = [policy("ALLOW", {"from": [{"source": {"serviceAccounts": ["default/orders", "catalog"]}}]})]
    assert decide(allow, ORDERS) and decide(allow, CATALOG)
    assert not decide(allow, SpiffeId("cluster.local", "shop", "orders"))
    deny = [policy("DENY", {"from": [{"source": {"notServiceAccounts": ["default/orders"]}}]})]
    assert decide(deny, ORDERS) and not decide(deny, CATALOG)


def test_trust_domains() -> None:
    foreign = SpiffeId("partner.example", "default", "orders")
    allow = [policy("ALLOW", {"from": [{"source": {"trustDomains": ["cluster.local"]}}]})]
    assert decide(allow, ORDERS) and not decide(allow, foreign)
    deny = [policy("DENY", {"from": [{"source": {"notTrustDomains": ["cluster.*"]}}]})]
    assert decide(deny, ORDERS) and not decide(deny, foreign)


def test_a_dry_run_deny_only_reports() -> None:
    """The defect as found: a DENY dry-run policy turned 200 into 403."""
    dry = policy("DENY", {"from": [{"source": {"principals": ["*"]}}]}, dry_run=True, name="shadow")
    facts = RequestFacts(ORDERS, "GET", "/charge")
    decision = PolicySet.for_workload([dry], PAYMENTS).evaluate(facts)
    assert decision.allowed
    assert decision.shadow is not None and not decision.shadow.allowed
    assert "shadow" in decision.shadow.reason


def test_a_dry_run_allow_never_locks_anyone_out() -> None:
    dry_allow = policy("ALLOW", when("request.headers[x-tenant]", ["acme"]), dry_run=True)
    facts = RequestFacts(ORDERS, "GET", "/charge", headers={"x-tenant": "other"})
    decision = PolicySet.for_workload([dry_allow], PAYMENTS).evaluate(facts)
    assert decision.allowed and decision.shadow is not None and not decision.shadow.allowed


def test_enforced_and_dry_run_side_by_side() -> None:
    enforced = policy("DENY", when("request.headers[x-block]", ["yes"]), name="block")
    dry = policy("DENY", {"from": [{"source": {"principals": ["*"]}}]}, dry_run=True, name="shadow")
    assert not decide([enforced, dry], headers={"x-block": "yes"})
    assert decide([enforced, dry])
    no_shadow = PolicySet.for_workload([enforced], PAYMENTS).evaluate(RequestFacts(ORDERS, "GET", "/"))
    assert no_shadow.shadow is None


@pytest.mark.parametrize(
    ("field", "value"),
    [("ipBlocks", ["10.0.0.0/33"]), ("notIpBlocks", ["not-an-ip"])],
)
def test_bad_blocks_are_refused_at_validation(field: str, value: list[str]) -> None:
    with pytest.raises(ValueError, match="IP address or CIDR"):
        policy("ALLOW", {"from": [{"source": {field: value}}]})
