"""VirtualService `tcp` and `tls` routes: which destination an opaque connection goes to, and the local listeners.

A connection is routed once, when it opens: by the port the app dialed (`tcp[].match[].port`, `tls[].match[].port`)
and, for `tls`, by the SNI of its ClientHello (`tls[].match[].sniHosts`: exact, `*.suffix` or `*`). The first
matching route wins, in document-name order as for http; its destinations are picked by weight. A host without a
matching route goes to itself on the dialed port (Istio's default for a service without a VirtualService).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from portico.core.config.configset import ConfigSet, service_name
from portico.core.config.istio_networking import Destination, RouteDestination, TcpKeepalive
from portico.core.mesh.circuit import DEFAULT_LIMIT
from portico.core.mesh.weighted import pick_weighted


@dataclass(frozen=True, slots=True)
class L4Route:
    name: str
    ports: frozenset[int]  # empty: any port
    sni_hosts: tuple[str, ...]  # tls routes only; empty for tcp
    destinations: tuple[tuple[Destination, int], ...]

    def matches(self, port: int, sni: str | None) -> bool:
        if self.ports and port not in self.ports:
            return False
        if not self.sni_hosts:
            return True
        return sni is not None and any(sni_matches(pattern, sni) for pattern in self.sni_hosts)


def sni_matches(pattern: str, sni: str) -> bool:
    name = sni.lower().rstrip(".")
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return name.endswith(pattern[1:]) and len(name) > len(pattern) - 1
    return name == pattern


@dataclass(frozen=True, slots=True)
class Target:
    """Where one connection goes: a service (and subset) on a port of its app."""

    service: str
    subset: str | None
    port: int
    route: str


@dataclass(frozen=True, slots=True)
class L4RouteTable:
    tcp: Mapping[str, tuple[L4Route, ...]] = field(default_factory=dict)
    tls: Mapping[str, tuple[L4Route, ...]] = field(default_factory=dict)

    @classmethod
    def build(cls, config: ConfigSet) -> L4RouteTable:
        tcp: dict[str, list[L4Route]] = {}
        tls: dict[str, list[L4Route]] = {}
        for vs_name in sorted(config.virtual_services):
            spec = config.virtual_services[vs_name].spec
            for host in spec.hosts:
                svc = service_name(host)
                for i, r in enumerate(spec.tcp):
                    ports = frozenset(m.port for m in r.match if m.port is not None)
                    if r.match and len(ports) < len(r.match):
                        ports = frozenset()  # one match without a port matches every port
                    tcp.setdefault(svc, []).append(L4Route(f"{vs_name}.tcp[{i}]", ports, (), _weights(r.route)))
                for i, t in enumerate(spec.tls):
                    # each match is its own (ports, sniHosts) pair: one route per match keeps them together
                    for j, m in enumerate(t.match):
                        ports = frozenset({m.port}) if m.port is not None else frozenset()
                        route = L4Route(f"{vs_name}.tls[{i}].match[{j}]", ports, tuple(m.sni_hosts), _weights(t.route))
                        tls.setdefault(svc, []).append(route)
        return cls({k: tuple(v) for k, v in tcp.items()}, {k: tuple(v) for k, v in tls.items()})

    def route(self, service: str, port: int, sni: str | None, tls: bool) -> L4Route | None:
        for route in (self.tls if tls else self.tcp).get(service, ()):
            if route.matches(port, sni):
                return route
        return None

    def target(self, service: str, port: int, sni: str | None, tls: bool, rng: random.Random) -> Target | None:
        """Where a connection to service:port goes; None when the matched route has every weight at 0."""
        route = self.route(service, port, sni, tls)
        if route is None:
            return Target(service, None, port, f"{service}.default")
        dest = pick_weighted(route.destinations, rng)
        if dest is None:
            return None
        number = dest.port.number if dest.port is not None else port
        return Target(service_name(dest.host), dest.subset, number, route.name)


def _weights(route: Sequence[RouteDestination]) -> tuple[tuple[Destination, int], ...]:
    single = len(route) == 1
    return tuple((d.destination, 100 if single else d.weight) for d in route)


@dataclass(frozen=True, slots=True)
class TcpUpstream:
    """A local TCP listener of the outbound side: the app dials 127.0.0.1:local_port to reach service:port."""

    local_port: int
    service: str
    port: int
    tls: bool = False  # route by SNI (`tls` routes) instead of `tcp` routes


def parse_upstreams(value: str, what: str = "PORTICO_TCP_UPSTREAMS") -> tuple[TcpUpstream, ...]:
    """`[LOCAL=]SERVICE:PORT[/tls],...`, e.g. `echo:9000,15432=db:5432,9443=pay:443/tls`. LOCAL defaults to PORT."""
    found: dict[int, TcpUpstream] = {}
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        local_text, sep, rest = item.rpartition("=")
        target, _, mode = rest.partition("/")
        service, colon, port_text = target.rpartition(":")
        if not colon or not service or mode not in ("", "tls", "tcp"):
            raise ValueError(f"{what}: {item!r} must be [LOCAL=]SERVICE:PORT[/tls], e.g. 15432=db:5432")
        port = _port(port_text, what)
        local = _port(local_text, what) if sep else port
        if local in found:
            raise ValueError(f"{what}: local port {local} is used twice")
        found[local] = TcpUpstream(local, service_name(service), port, mode == "tls")
    return tuple(found.values())


def _port(text: str, what: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"{what}: port {port} is outside 1-65535")
    return port


@dataclass(frozen=True, slots=True)
class L4Limits:
    """DestinationRule connectionPool.tcp for one opaque-TCP cluster, with Envoy's tcp_proxy defaults."""

    max_connections: int = DEFAULT_LIMIT
    connect_timeout: float = 10.0
    idle_timeout: float = 3600.0  # Envoy tcp_proxy's default idle_timeout is 1h; 0 turns it off
    max_connection_duration: float | None = None
    keepalive: TcpKeepalive | None = None


def l4_limits(config: ConfigSet, service: str, subset: str | None) -> L4Limits:
    tcp = None
    for name in sorted(config.destination_rules):
        spec = config.destination_rules[name].spec
        if service_name(spec.host) != service:
            continue
        policies = [spec.traffic_policy, *(s.traffic_policy for s in spec.subsets if s.name == subset)]
        for tp in policies:  # a subset's connectionPool replaces the top-level one (Istio's field-by-field merge)
            pool = tp.connection_pool if tp is not None else None
            if pool is not None and pool.tcp is not None:
                tcp = pool.tcp
        break
    if tcp is None:
        return L4Limits()
    return L4Limits(
        max_connections=tcp.max_connections or DEFAULT_LIMIT,
        connect_timeout=tcp.connect_timeout or 10.0,
        idle_timeout=tcp.idle_timeout if tcp.idle_timeout is not None else 3600.0,
        max_connection_duration=tcp.max_connection_duration or None,
        keepalive=tcp.tcp_keepalive,
    )
