"""Partition keys come only from verified identity or the socket peer; plans and overrides pick the limits."""

from __future__ import annotations

from typing import Any

from portico.core.config.identity import ConsumerSpec, LimitOverride
from portico.core.config.loader import parse_documents
from portico.core.headers import Headers
from portico.core.http import Request
from portico.core.quota.keys import counter_key, partition_value
from portico.core.quota.plan import QuotaLimit, QuotaPolicy, effective_policy
from portico.core.quota.window import window_at


def _request(**kw: Any) -> Request:
    return Request(method="GET", path="/", source_ip="203.0.113.9", **kw)


def test_ip_key_is_the_source_address_never_x_forwarded_for() -> None:
    spoofed = _request(headers=Headers([("x-forwarded-for", "198.51.100.1"), ("forwarded", "for=198.51.100.2")]))
    assert partition_value("ip", spoofed, None) == "ip:203.0.113.9"


def test_consumer_sub_and_claim_keys_read_only_the_verified_identity() -> None:
    identity = {"sub": "u-1", "consumer": "acme", "scopes": [], "claims": {"tenant": "t-9", "admin": True}}
    request = _request(headers=Headers([("authorization", "Bearer x.eyJzdWIiOiJ2aWN0aW0ifQ.y")]))
    assert partition_value("consumer", request, identity) == "consumer:acme"
    assert partition_value("sub", request, identity) == "sub:u-1"
    assert partition_value("claim:tenant", request, identity) == "claim:tenant:t-9"
    # A bool is not an identifier, and without a verified identity the caller is only its address.
    assert partition_value("claim:admin", request, identity) == "ip:203.0.113.9"
    assert partition_value("sub", request, None) == "ip:203.0.113.9"


def test_identity_may_be_an_object() -> None:
    class Identity:
        sub = "u-2"
        consumer = None
        claims: dict[str, Any] = {}

    assert partition_value("sub", _request(), Identity()) == "sub:u-2"
    assert partition_value("consumer", _request(), Identity()) == "ip:203.0.113.9"


def test_unsafe_or_long_values_are_hashed_into_the_counter_key() -> None:
    request = _request(headers=Headers([("x-tenant", "a|b" * 200)]))
    value = partition_value("header:x-tenant", request, None)
    assert value.startswith("header:x-tenant:sha256-") and "|" not in value
    assert counter_key("p", window_at(125.0, 60), value) == f"p|60|{value}|2"


def _policy(key: str = "consumer") -> QuotaPolicy:
    return QuotaPolicy("standard", key, (QuotaLimit("1m", 6, 60), QuotaLimit("1d", 1000, 86400)))


def test_plan_replaces_route_policy_and_overrides_replace_or_add_limits_by_window() -> None:
    gold = QuotaPolicy("gold", "consumer", (QuotaLimit("1m", 600, 60),))
    policies = {"standard": _policy(), "gold": gold}
    assert effective_policy("standard", None, policies) == _policy()
    assert effective_policy(None, None, policies) is None
    assert effective_policy("standard", ConsumerSpec(plan="gold"), policies) == gold
    consumer = ConsumerSpec(
        limits=[LimitOverride(requests=60, window="1m"), LimitOverride(requests=5, window="1s", name="burst")]
    )
    chosen = effective_policy("standard", consumer, policies)
    assert chosen is not None
    assert chosen.limits == (QuotaLimit("burst", 5, 1), QuotaLimit("1m", 60, 60), QuotaLimit("1d", 1000, 86400))


def test_overrides_do_not_apply_to_shared_counters() -> None:
    consumer = ConsumerSpec(limits=[LimitOverride(requests=10_000, window="1m")])
    by_ip = _policy("ip")
    assert effective_policy("standard", consumer, {"standard": by_ip}) == by_ip


def test_policy_validation_catches_costs_and_duplicate_windows() -> None:
    base = "apiVersion: portico/v1\nkind: RateLimitPolicy\nmetadata: {name: p}\nspec:\n"
    _, issues = parse_documents(base + "  cost: 5\n  limits: [{requests: 3, window: 1s}]\n")
    assert any("cost 5 exceeds" in str(i) for i in issues)
    _, issues = parse_documents(base + "  limits: [{requests: 3, window: 60s}, {requests: 9, window: 1m}]\n")
    assert any("share a window" in str(i) for i in issues)
    _, issues = parse_documents(base + "  timeout: 30s\n  limits: [{requests: 3, window: 1m}]\n")
    assert any("timeout" in str(i) for i in issues)
    docs, issues = parse_documents(
        base + "  key: ip\n  mode: leasing\n  leaseSize: 50\n  limits: [{requests: 100, window: 1s, name: burst}]\n"
    )
    assert issues == [] and docs[0].spec.limits[0].label == "burst"
