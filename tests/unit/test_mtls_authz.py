"""AuthorizationPolicy evaluation: Istio semantics on the verified peer identity."""

from __future__ import annotations

from typing import Any

import pytest

from portico.core.config.documents import AuthorizationPolicy
from portico.core.mtls.authz import PolicySet, RequestFacts, Workload, policy_path
from portico.core.mtls.spiffe import SpiffeId

PAYMENTS = Workload("default", {"app": "payments"})
ORDERS = SpiffeId("cluster.local", "default", "orders")
CATALOG = SpiffeId("cluster.local", "default", "catalog")


def policy(name: str, spec: dict[str, Any], namespace: str | None = None) -> AuthorizationPolicy:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    return AuthorizationPolicy.model_validate(
        {"apiVersion": "security.istio.io/v1beta1", "kind": "AuthorizationPolicy", "metadata": meta, "spec": spec}
    )


ONLY_ORDERS_CHARGE = policy(
    "payments-charge",
    {
        "selector": {"matchLabels": {"app": "payments"}},
        "action": "ALLOW",
        "rules": [
            {
                "from": [{"source": {"principals": ["cluster.local/ns/default/sa/orders"]}}],
                "to": [{"operation": {"methods": ["POST"], "paths": ["/charge"]}}],
            }
        ],
    },
)


def allowed(policies: list[AuthorizationPolicy], peer: SpiffeId, method: str = "POST", path: str = "/charge") -> bool:
    facts = RequestFacts(peer=peer, method=method, path=policy_path(path))
    return PolicySet.for_workload(policies, PAYMENTS).evaluate(facts).allowed


def test_no_policy_allows() -> None:
    assert allowed([], CATALOG)


def test_allow_policy_admits_only_the_named_principal_and_operation() -> None:
    assert allowed([ONLY_ORDERS_CHARGE], ORDERS)
    assert not allowed([ONLY_ORDERS_CHARGE], CATALOG)
    assert not allowed([ONLY_ORDERS_CHARGE], ORDERS, method="GET")
    assert not allowed([ONLY_ORDERS_CHARGE], ORDERS, path="/refund")


def test_path_tricks_do_not_reach_a_path_outside_the_rule() -> None:
    assert allowed([ONLY_ORDERS_CHARGE], ORDERS, path="/charge?amount=3")
    assert not allowed([ONLY_ORDERS_CHARGE], ORDERS, path="/charge/../admin")
    deny_admin = policy("no-admin", {"action": "DENY", "rules": [{"to": [{"operation": {"paths": ["/admin*"]}}]}]})
    for sneaky in ("/public/../admin", "/public/..%2Fadmin", "//admin", "/./admin/x"):
        assert not allowed([deny_admin], ORDERS, path=sneaky), sneaky


def test_deny_beats_allow() -> None:
    deny_orders = policy(
        "deny-orders",
        {"action": "DENY", "rules": [{"from": [{"source": {"principals": ["*/sa/orders"]}}]}]},
    )
    assert not allowed([ONLY_ORDERS_CHARGE, deny_orders], ORDERS)


def test_deny_alone_leaves_everything_else_allowed() -> None:
    deny_catalog = policy(
        "deny-catalog", {"action": "DENY", "rules": [{"from": [{"source": {"principals": ["*/sa/catalog"]}}]}]}
    )
    assert allowed([deny_catalog], ORDERS)
    assert not allowed([deny_catalog], CATALOG)


def test_allow_nothing_policy_denies_all() -> None:
    assert not allowed([policy("allow-nothing", {})], ORDERS)


def test_a_rule_without_from_or_to_matches_every_request() -> None:
    assert allowed([policy("allow-all", {"rules": [{}]})], CATALOG)


@pytest.mark.parametrize(
    ("principals", "expected"),
    [(["cluster.local/ns/default/*"], True), (["*/sa/orders"], True), (["*"], True), (["*/sa/other"], False)],
)
def test_principal_wildcards(principals: list[str], expected: bool) -> None:
    p = policy("p", {"rules": [{"from": [{"source": {"principals": principals}}]}]})
    assert allowed([p], ORDERS) is expected


def test_not_principals_and_namespaces() -> None:
    p = policy(
        "p",
        {"rules": [{"from": [{"source": {"namespaces": ["default"], "notPrincipals": ["*/sa/catalog"]}}]}]},
    )
    assert allowed([p], ORDERS)
    assert not allowed([p], CATALOG)
    assert not allowed([p], SpiffeId("cluster.local", "other", "orders"))


def test_not_methods_and_not_paths() -> None:
    p = policy("p", {"rules": [{"to": [{"operation": {"notMethods": ["DELETE"], "notPaths": ["/internal/*"]}}]}]})
    assert allowed([p], ORDERS, method="GET", path="/x")
    assert not allowed([p], ORDERS, method="DELETE", path="/x")
    assert not allowed([p], ORDERS, method="GET", path="/internal/y")


def test_policies_select_workloads_by_labels_and_namespace() -> None:
    other_app = policy("other", {"selector": {"matchLabels": {"app": "catalog"}}})
    other_ns = policy("ns", {}, namespace="prod")
    same_ns = policy("ns2", {}, namespace="default")
    assert allowed([other_app, other_ns], ORDERS)  # neither applies to payments in default
    assert not allowed([same_ns], ORDERS)


def test_reason_names_the_deciding_policy() -> None:
    facts = RequestFacts(peer=CATALOG, method="POST", path="/charge")
    decision = PolicySet.for_workload([ONLY_ORDERS_CHARGE], PAYMENTS).evaluate(facts)
    assert decision.reason == "no ALLOW policy matched"
    facts = RequestFacts(peer=ORDERS, method="POST", path="/charge")
    decision = PolicySet.for_workload([ONLY_ORDERS_CHARGE], PAYMENTS).evaluate(facts)
    assert "payments-charge" in decision.reason
