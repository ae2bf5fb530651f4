"""SPIFFE ID parsing and Istio principal matching."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portico.core.mtls.spiffe import (
    InvalidSpiffeId,
    SpiffeId,
    build,
    from_dns_name,
    parse,
    principal_matches,
)

ORDERS = SpiffeId("cluster.local", "default", "orders")


def test_parse_round_trips_the_istio_form() -> None:
    text = "spiffe://cluster.local/ns/default/sa/orders"
    assert parse(text) == ORDERS
    assert str(parse(text)) == text
    assert ORDERS.principal == "cluster.local/ns/default/sa/orders"


@pytest.mark.parametrize(
    "text",
    [
        "cluster.local/ns/default/sa/orders",  # no scheme
        "SPIFFE://cluster.local/ns/default/sa/orders",
        "spiffe://Cluster.Local/ns/default/sa/orders",  # upper-case trust domain
        "spiffe://cluster.local:443/ns/default/sa/orders",  # port
        "spiffe://user@cluster.local/ns/default/sa/orders",
        "spiffe://cluster.local/ns/default/sa/orders/extra",
        "spiffe://cluster.local/ns/default/sa/",
        "spiffe://cluster.local/ns//sa/orders",
        "spiffe://cluster.local/ns/../sa/orders",
        "spiffe://cluster.local/ns/default/sa/orders?x=1",
        "spiffe://cluster.local/ns/default/sa/orders#f",
        "spiffe://cluster.local/sa/orders/ns/default",
        "spiffe:///ns/default/sa/orders",
        "spiffe://cluster.local",
    ],
)
def test_parse_rejects_what_is_not_a_portico_spiffe_id(text: str) -> None:
    with pytest.raises(InvalidSpiffeId):
        parse(text)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("cluster.local/ns/default/sa/orders", True),
        ("spiffe://cluster.local/ns/default/sa/orders", True),
        ("cluster.local/ns/default/sa/order", False),  # exact means exact, not prefix
        ("cluster.local/ns/default/sa/orders-v2", False),
        ("*", True),
        ("cluster.local/ns/default/*", True),
        ("spiffe://cluster.local/ns/default/*", True),
        ("cluster.local/ns/other/*", False),
        ("*/sa/orders", True),
        ("*/sa/payments", False),
        ("other.domain/ns/default/sa/orders", False),
    ],
)
def test_principal_matching_follows_istio(pattern: str, expected: bool) -> None:
    assert principal_matches(pattern, ORDERS) is expected


def test_acm_dns_names_map_only_under_our_trust_domain() -> None:
    assert from_dns_name("orders.default.svc.cluster.local", "cluster.local") == ORDERS
    assert from_dns_name("orders.default.svc.evil.local", "cluster.local") is None
    assert from_dns_name("a.orders.default.svc.cluster.local", "cluster.local") is None
    assert from_dns_name("orders.svc.cluster.local", "cluster.local") is None
    assert ORDERS.dns_name == "orders.default.svc.cluster.local"


_label = st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True)


@given(_label, _label, _label)
def test_build_parse_and_dns_mapping_agree(domain: str, namespace: str, service: str) -> None:
    ident = build(f"{domain}.local", namespace, service)
    assert parse(str(ident)) == ident
    assert from_dns_name(ident.dns_name, ident.trust_domain) == ident
