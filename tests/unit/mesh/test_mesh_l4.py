"""Opaque TCP in the core: tcp/tls routes, SNI from a real ClientHello, the in-band framing, and TCP authz."""

from __future__ import annotations

import random
import ssl

import pytest
import yaml

from portico.core.config.configset import ConfigSet
from portico.core.config.mesh_documents import AuthorizationPolicy, DestinationRule, VirtualService
from portico.core.mesh.clienthello import MORE, NOT_TLS, sni_of
from portico.core.mesh.l4frame import END, FrameDecoder, FrameError, parse_preamble, preamble
from portico.core.mesh.l4route import L4RouteTable, l4_limits, parse_upstreams
from portico.core.mtls.authz import PolicySet, Workload
from portico.core.mtls.l4authz import connection_facts, for_connections
from portico.core.mtls.spiffe import build

VS = """
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: tcp-echo}
spec:
  hosts: [tcp-echo]
  tcp:
    - match: [{port: 31400}]
      route:
        - {destination: {host: tcp-echo, subset: v1}, weight: 80}
        - {destination: {host: tcp-echo, subset: v2}, weight: 20}
    - route: [{destination: {host: tcp-echo, subset: v1, port: {number: 9000}}}]
  tls:
    - match: [{port: 443, sniHosts: [login.bookinfo.com]}, {sniHosts: ["*.reviews.com"]}]
      route: [{destination: {host: login, port: {number: 8443}}}]
"""
DR = """
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: tcp-echo}
spec:
  host: tcp-echo
  trafficPolicy:
    connectionPool: {tcp: {maxConnections: 7, connectTimeout: 250ms, idleTimeout: 5s}}
  subsets:
    - {name: v1, labels: {version: v1}}
    - name: v2
      labels: {version: v2}
      trafficPolicy: {connectionPool: {tcp: {maxConnections: 3, tcpKeepalive: {time: 30s, probes: 3}}}}
"""


def _config() -> ConfigSet:
    vs = VirtualService.model_validate(yaml.safe_load(VS))
    dr = DestinationRule.model_validate(yaml.safe_load(DR))
    return ConfigSet(virtual_services={"tcp-echo": vs}, destination_rules={"tcp-echo": dr})


def test_tcp_routes_match_on_port_and_split_by_weight() -> None:
    table = L4RouteTable.build(_config())
    rng = random.Random(7)
    picks = [table.target("tcp-echo", 31400, None, False, rng) for _ in range(10_000)]
    v1 = sum(1 for p in picks if p is not None and p.subset == "v1")
    assert 7700 <= v1 <= 8300
    other = table.target("tcp-echo", 5555, None, False, rng)
    assert other is not None and (other.subset, other.port) == ("v1", 9000)  # the route without a port match
    unknown = table.target("db", 5432, None, False, rng)
    assert unknown is not None and (unknown.service, unknown.port, unknown.subset) == ("db", 5432, None)


def test_tls_routes_match_on_sni_exact_and_wildcard() -> None:
    table = L4RouteTable.build(_config())
    rng = random.Random(1)
    hit = table.target("tcp-echo", 443, "login.bookinfo.com", True, rng)
    assert hit is not None and hit.port == 8443 and hit.route.endswith("match[0]")
    assert table.route("tcp-echo", 8443, "login.bookinfo.com", True) is None  # match[0] needs port 443
    assert table.route("tcp-echo", 1, "a.reviews.com", True) is not None
    assert table.route("tcp-echo", 1, "reviews.com", True) is None  # *.x does not match x itself
    assert table.route("tcp-echo", 443, None, True) is None


def test_destination_rule_tcp_pool_settings_per_subset() -> None:
    config = _config()
    base, v2 = l4_limits(config, "tcp-echo", "v1"), l4_limits(config, "tcp-echo", "v2")
    assert (base.max_connections, base.connect_timeout, base.idle_timeout) == (7, 0.25, 5.0)
    assert v2.max_connections == 3 and v2.keepalive is not None and v2.keepalive.probes == 3
    assert l4_limits(config, "other", None).idle_timeout == 3600.0


def test_upstream_declarations() -> None:
    ups = parse_upstreams("echo:9000, 15432=db.default.svc.cluster.local:5432,9443=pay:443/tls")
    assert [(u.local_port, u.service, u.port, u.tls) for u in ups] == [
        (9000, "echo", 9000, False),
        (15432, "db", 5432, False),
        (9443, "pay", 443, True),
    ]
    for bad in ("echo", "echo:x", "1=a:1,1=b:2", "a:1/udp", "a:70000"):
        with pytest.raises(ValueError, match="PORTICO_TCP_UPSTREAMS"):
            parse_upstreams(bad)


def _client_hello(server_name: str | None) -> bytes:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=server_name)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def test_sni_is_read_from_a_real_client_hello() -> None:
    hello = _client_hello("Login.Bookinfo.com")
    assert sni_of(hello) == "login.bookinfo.com"
    assert sni_of(hello[:20]) == MORE
    assert sni_of(_client_hello(None)) is None
    assert sni_of(b"GET / HTTP/1.1\r\n\r\n") == NOT_TLS
    assert sni_of(b"\x16\x03\x01\xff\xff" + b"\x00" * 10) == NOT_TLS  # over the 16 KiB bound


def test_framing_round_trip_across_arbitrary_reads() -> None:
    payload = bytes(range(256)) * 40
    wire = preamble(9000) + b"".join(len(c).to_bytes(4, "big") + c for c in (payload[:1000], payload[1000:])) + END
    assert parse_preamble(wire[:5]) == 9000
    out = bytearray()
    dec = FrameDecoder()
    ended = False
    for i in range(5, len(wire), 7):
        ended = dec.feed(memoryview(wire[i : i + 7]), out.extend)
    assert ended and bytes(out) == payload
    with pytest.raises(FrameError):
        dec.feed(memoryview(b"x"), out.extend)
    with pytest.raises(FrameError):
        FrameDecoder().feed(memoryview((1 << 24).to_bytes(4, "big")), out.extend)
    with pytest.raises(FrameError):
        parse_preamble(b"GET /")


def test_tcp_authorization_drops_http_fields_in_deny_and_never_matches_http_only_allow() -> None:
    policies = [
        AuthorizationPolicy.model_validate(yaml.safe_load(text))
        for text in (
            """
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: deny-get-on-9000}
spec:
  action: DENY
  rules: [{to: [{operation: {methods: [GET], ports: ["9000"]}}]}]
""",
            """
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: allow-web-paths}
spec:
  rules:
    - from: [{source: {principals: [cluster.local/ns/default/sa/web]}}]
      to: [{operation: {paths: [/api/*]}}]
    - from: [{source: {principals: [cluster.local/ns/default/sa/batch]}}]
      to: [{operation: {ports: ["9001"]}}]
""",
        )
    ]
    tcp = for_connections(PolicySet.for_workload(policies, Workload("default", {"app": "db"})))
    web, batch = build("cluster.local", "default", "web"), build("cluster.local", "default", "batch")
    assert not tcp.evaluate(connection_facts(batch, 9000, "10.0.0.1")).allowed  # DENY minus its method: the port
    assert tcp.evaluate(connection_facts(batch, 9001, "10.0.0.1")).allowed
    assert not tcp.evaluate(connection_facts(web, 9001, "10.0.0.1")).allowed  # web's ALLOW rule needs HTTP paths
