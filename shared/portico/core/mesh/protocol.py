"""Which protocol a port speaks: Istio's port naming and appProtocol, App Mesh's portMapping, the sidecar's flags.

One answer for every source (docs/mesh-protocols.md, "Protocol selection"):

- Istio: `appProtocol` wins over the port name; a name is `<protocol>[-<suffix>]` (`grpc-web` is one protocol,
  so `grpc-web-ui` is grpc-web, while `http2-api` is http2). Case does not matter. `https` is `tls` (a sidecar does
  not decrypt the app's own TLS), and `mongo`, `mysql` and `redis` are opaque `tcp`. A name or value that names no
  protocol leaves the port `auto`, as in Istio, except on the server-first well-known ports (MySQL 3306, MongoDB
  27017), which are `tcp`. `udp` is refused: the mesh carries TCP only.
- App Mesh: a listener's `portMapping.protocol` is exactly one of http, http2, grpc, tcp.
- The sidecar: `--app-protocol` / PORTICO_APP_PROTOCOL for the app port and `--app-ports PORT=PROTOCOL,...` /
  PORTICO_APP_PORTS for more ports take the same names as appProtocol, strictly: an unknown name is an error.

`auto` is Portico's default, as Istio's is for an unnamed port. Istio sniffs; Portico's decision: `auto` means
HTTP, whose version is sniffed where a connection starts (an HTTP/2 connection preface means h2c, anything else is
HTTP/1.1), and HTTP/1.1 toward the app. Opaque TCP is never guessed: a TCP port must be declared as one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum


class Protocol(StrEnum):
    AUTO = "auto"  # not declared: HTTP, version sniffed (see the module docstring)
    HTTP = "http"  # HTTP/1.1
    HTTP2 = "http2"  # HTTP/2 (h2c toward the app)
    GRPC = "grpc"  # HTTP/2 carrying gRPC
    GRPC_WEB = "grpc-web"  # gRPC-Web: HTTP, routed like http2 in Istio
    TCP = "tcp"  # opaque bytes
    TLS = "tls"  # opaque bytes that start with a TLS ClientHello (routable by SNI)


class UnsupportedProtocol(ValueError):
    """A declared protocol the mesh cannot carry (UDP), or, where names are strict, a name that is no protocol."""


HTTP_FAMILY = frozenset({Protocol.AUTO, Protocol.HTTP, Protocol.HTTP2, Protocol.GRPC, Protocol.GRPC_WEB})
OPAQUE = frozenset({Protocol.TCP, Protocol.TLS})
# protocols whose app speaks HTTP/2 (h2c) on its own port
H2_TO_APP = frozenset({Protocol.HTTP2, Protocol.GRPC})

# Istio's protocol names (protocol.Parse, case-insensitive) and what each is for a Portico sidecar
_NAMES: Mapping[str, Protocol] = {
    "http": Protocol.HTTP,
    "http_proxy": Protocol.HTTP,
    "http2": Protocol.HTTP2,
    "grpc": Protocol.GRPC,
    "grpc-web": Protocol.GRPC_WEB,
    "tcp": Protocol.TCP,
    "tls": Protocol.TLS,
    "https": Protocol.TLS,  # the sidecar does not terminate the app's TLS: passthrough, as Istio's sidecar does
    "mongo": Protocol.TCP,
    "mysql": Protocol.TCP,
    "redis": Protocol.TCP,
}
# Kubernetes' standard appProtocol values (only valid as appProtocol, never as a port name)
_K8S_APP_PROTOCOLS: Mapping[str, Protocol] = {
    "kubernetes.io/h2c": Protocol.HTTP2,
    "kubernetes.io/ws": Protocol.HTTP,
    "kubernetes.io/wss": Protocol.TLS,
}
# server-first protocols: sniffing would wait for a client that never speaks first
WELL_KNOWN_TCP_PORTS = frozenset({3306, 27017})
APPMESH: Mapping[str, Protocol] = {
    "http": Protocol.HTTP,
    "http2": Protocol.HTTP2,
    "grpc": Protocol.GRPC,
    "tcp": Protocol.TCP,
}


@dataclass(frozen=True, slots=True)
class PortProtocol:
    """A port, what it speaks, and where that came from (for /config_dump and reports)."""

    port: int
    protocol: Protocol
    source: str  # "appProtocol", "port name", "well-known port", "App Mesh portMapping", "flag", "default"

    @property
    def is_http(self) -> bool:
        return self.protocol in HTTP_FAMILY

    @property
    def is_opaque(self) -> bool:
        return self.protocol in OPAQUE


def _lookup(name: str) -> Protocol | None:
    lowered = name.strip().lower()
    if lowered.startswith("grpc-web"):  # before the dash split, as Istio does: grpc-web holds a dash itself
        return Protocol.GRPC_WEB
    head = lowered.split("-", 1)[0]
    if head == "udp":
        raise UnsupportedProtocol(f"{name!r}: UDP is not carried by the mesh (TCP-based protocols only)")
    return _NAMES.get(head)


def from_istio(port: int, name: str | None = None, app_protocol: str | None = None) -> PortProtocol:
    """The protocol of a Service port as Istio selects it: appProtocol, else the port name, else `auto`."""
    if app_protocol:
        if (k8s := _K8S_APP_PROTOCOLS.get(app_protocol.strip().lower())) is not None:
            return PortProtocol(port, k8s, "appProtocol")
        if (found := _lookup(app_protocol)) is not None:
            return PortProtocol(port, found, "appProtocol")
    elif name and (found := _lookup(name)) is not None:
        return PortProtocol(port, found, "port name")
    if port in WELL_KNOWN_TCP_PORTS:
        return PortProtocol(port, Protocol.TCP, "well-known port")
    return PortProtocol(port, Protocol.AUTO, "default")


def from_appmesh(port: int, protocol: str) -> PortProtocol:
    """An App Mesh listener's portMapping: http, http2, grpc or tcp, nothing else."""
    found = APPMESH.get(protocol)
    if found is None:
        raise UnsupportedProtocol(f"portMapping.protocol {protocol!r} must be one of {', '.join(APPMESH)}")
    return PortProtocol(port, found, "App Mesh portMapping")


def parse_protocol(value: str, what: str = "PORTICO_APP_PROTOCOL") -> Protocol:
    """A protocol named in a flag or variable, strictly: `auto` or a name appProtocol accepts."""
    text = value.strip().lower()
    if text == Protocol.AUTO:
        return Protocol.AUTO
    found = _K8S_APP_PROTOCOLS.get(text) or _lookup(text)
    if found is None:
        names = ", ".join(["auto", *_NAMES])
        raise UnsupportedProtocol(f"{what}: {value!r} is not a protocol (one of {names}, optionally -suffix)")
    return found


def parse_port_list(value: str, what: str = "PORTICO_APP_PORTS") -> tuple[PortProtocol, ...]:
    """`9000=tcp,50051=grpc-api`: the app's extra ports and their protocols; each port once."""
    found: dict[int, PortProtocol] = {}
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        port_text, sep, proto_text = item.partition("=")
        if not sep or not proto_text.strip():
            raise ValueError(f"{what}: {item!r} must be PORT=PROTOCOL, e.g. 9000=tcp")
        try:
            port = int(port_text)
        except ValueError:
            raise ValueError(f"{what}: {port_text!r} is not a port number") from None
        if not 1 <= port <= 65535:
            raise ValueError(f"{what}: port {port} is outside 1-65535")
        if port in found:
            raise ValueError(f"{what}: port {port} is declared twice")
        found[port] = PortProtocol(port, parse_protocol(proto_text, what), "flag")
    return tuple(found.values())


def by_port(ports: Iterable[PortProtocol]) -> dict[int, PortProtocol]:
    return {p.port: p for p in ports}
