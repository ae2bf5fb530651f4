"""IP rules through the real edge chain: v4 and v6 allow/deny, per route and global, X-Forwarded-For not believed."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from portico.adapters.memory import InMemoryQuotaStore
from portico.core.iprules import IpRuleSet, client_address
from portico.core.quota.limiter import QuotaLimiter
from tests.unit.protect.kit import CountingUpstream, pipeline, send

CONFIG = """
apiVersion: portico/v1
kind: RateLimitPolicy
metadata: {name: per-ip}
spec:
  key: ip
  limits: [{requests: 1000, window: 1m}]
---
apiVersion: portico/v1
kind: Route
metadata: {name: office}
spec:
  match: {pathPrefix: /office}
  auth: {none: {}}
  rateLimit: per-ip
  ipRules: {allow: [203.0.113.0/24, "2001:db8:1::/48"], deny: [203.0.113.66/32, "2001:db8:1:bad::/64"]}
  upstream: {mock: {status: 200}}
---
apiVersion: portico/v1
kind: Route
metadata: {name: open}
spec:
  match: {pathPrefix: /open}
  auth: {none: {}}
  upstream: {mock: {status: 200}}
"""


def _net(*cidrs: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(c) for c in cidrs)


def _status(path: str, source: str, headers: list[tuple[str, str]] | None = None, **deps: object) -> int:
    handler = pipeline(CONFIG, CountingUpstream(), **deps)
    return asyncio.run(send(handler, "GET", path, source_ip=source, headers=headers)).status


@pytest.mark.parametrize(
    ("source", "status"),
    [
        ("203.0.113.7", 200),
        ("203.0.113.66", 403),  # denied inside the allowed range: deny wins
        ("198.51.100.1", 403),  # not allowed
        ("2001:db8:1::7", 200),
        ("2001:db8:1:bad::1", 403),
        ("2001:db8:2::1", 403),
        ("::ffff:203.0.113.7", 200),  # IPv4-mapped IPv6 is the IPv4 it carries
        ("not-an-address", 403),
    ],
)
def test_route_rules(source: str, status: int) -> None:
    assert _status("/office/x", source) == status


def test_forged_forwarded_for_changes_nothing() -> None:
    forged = [("x-forwarded-for", "203.0.113.7")]
    assert _status("/office/x", "198.51.100.1", forged) == 403
    # even with a trusted-proxy setting, a source that is not a trusted proxy is judged itself
    assert _status("/office/x", "198.51.100.1", forged, trusted_proxies=_net("10.0.0.0/8")) == 403
    denied = [("x-forwarded-for", "198.51.100.1")]
    assert _status("/office/x", "203.0.113.7", denied) == 200


def test_trusted_proxy_hop_is_believed_from_the_right() -> None:
    trusted = _net("130.176.0.0/16")  # a CloudFront range
    # the client wrote an allowed address first; CloudFront appended the real viewer
    hops = [("x-forwarded-for", "203.0.113.7, 198.51.100.1")]
    assert _status("/office/x", "130.176.1.1", hops, trusted_proxies=trusted) == 403
    hops = [("x-forwarded-for", "198.51.100.1, 203.0.113.7")]
    assert _status("/office/x", "130.176.1.1", hops, trusted_proxies=trusted) == 200


def test_global_policy_applies_to_every_route() -> None:
    policy = IpRuleSet(deny=_net("198.51.100.0/24", "2001:db8:dead::/48"))
    assert _status("/open/x", "198.51.100.9", ip_policy=policy) == 403
    assert _status("/open/x", "2001:db8:dead::1", ip_policy=policy) == 403
    assert _status("/open/x", "192.0.2.1", ip_policy=policy) == 200
    assert _status("/nowhere", "198.51.100.9", ip_policy=policy) == 403  # before routing: even a 404 is not shown


def test_refusal_costs_no_quota_write() -> None:
    store = InMemoryQuotaStore()
    limiter = QuotaLimiter(store)
    handler = pipeline(CONFIG, CountingUpstream(), quota=lambda: limiter)
    assert asyncio.run(send(handler, "GET", "/office/x", source_ip="198.51.100.1")).status == 403
    assert store.writes == 0
    assert asyncio.run(send(handler, "GET", "/office/x", source_ip="203.0.113.7")).status == 200
    assert store.writes == 1


def test_client_address_walks_only_trusted_hops() -> None:
    trusted = _net("10.0.0.0/8")
    assert str(client_address("10.1.1.1", "1.1.1.1, 2.2.2.2, 10.2.2.2", trusted)) == "2.2.2.2"
    assert client_address("10.1.1.1", "1.1.1.1, junk", trusted) is None
    assert str(client_address("10.1.1.1", "10.3.3.3", trusted)) == "10.3.3.3"  # all trusted: the leftmost proxy
    assert str(client_address("192.0.2.1", "1.1.1.1", ())) == "192.0.2.1"


@pytest.mark.parametrize(
    "text",
    ["203.0.113.7", "0.0.0.0", "255.255.255.255", "256.1.1.1", "01.2.3.4", "1.2.3", "1.2.3.4.5", " 1.2.3.4",
     "1.2.3.4:8080", "1.2.3.04", "\u0661.2.3.4", "1.2.3.4\n", "::ffff:203.0.113.7", "2001:db8::1", "", "a.b.c.d"],
)  # fmt: skip
def test_fast_dotted_quad_agrees_with_ipaddress(text: str) -> None:
    """The IPv4 fast path (no ipaddress parse per request) accepts exactly what the general parser accepts."""
    from portico.core.iprules import parse_address

    value = text.strip()
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        expected: object = ipaddress.ip_address(value)
        if isinstance(expected, ipaddress.IPv6Address) and expected.ipv4_mapped is not None:
            expected = expected.ipv4_mapped
    except ValueError:
        expected = None
    assert parse_address(text) == expected
    rules = IpRuleSet(allow=_net("203.0.113.0/24", "2001:db8::/32"))
    assert rules.admits_source(text) == rules.admits(parse_address(text))


def test_remembered_verdicts_stay_right_and_bounded() -> None:
    """Verdicts remembered per source address give the same answers as judging afresh, and never outgrow MEMO."""
    from portico.core.chain import Context
    from portico.core.config.loader import parse_documents
    from portico.core.http import Request
    from portico.edge.filters.ip import RouteIpRules

    documents, issues = parse_documents(CONFIG)
    assert not issues
    rules = RouteIpRules({d.metadata.name: d for d in documents if d.kind == "Route"})
    rules.MEMO = 3
    sources = [f"203.0.113.{i}" for i in range(60, 70)] * 2 + ["2001:db8:1::7", "2001:db8:1:bad::1", "junk"]
    for source in sources:
        ctx = Context(Request("GET", "/office/x", source_ip=source), now=0.0, request_id="r")
        refused = rules.refusal(ctx, "office")
        assert (refused is not None) == (source in ("203.0.113.66", "2001:db8:1:bad::1", "junk")), source
        assert refused is None or refused.status == 403
        assert rules.refusal(ctx, "open") is None  # a route without rules refuses no one
        assert len(rules._verdicts["office"]) <= 3


def test_canned_refusal_is_byte_for_byte_the_problem() -> None:
    from portico.core.problem import CannedProblem, problem

    canned = CannedProblem(403, "requests from this address are not allowed")
    for request_id in ("r", "", 'odd "id" \\ é\u2028', "c6a2f1f4-3a5b-4f8e"):
        made = problem(403, "requests from this address are not allowed", request_id=request_id)
        got = canned.response(request_id)
        assert (got.status, got.body, list(got.headers)) == (made.status, made.body, list(made.headers))
