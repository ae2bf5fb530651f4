"""Sidecar settings: flags first, then PORTICO_* environment variables, then the documented defaults."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from portico.core.hop import UnderscoreAction, underscore_action
from portico.core.mesh.l4route import TcpUpstream, parse_upstreams
from portico.core.mesh.protocol import PortProtocol, Protocol, parse_port_list, parse_protocol
from portico.core.mesh.registry import parse_labels
from portico.mesh.http1 import ServerLimits, limits_from_env

DEFAULT_INBOUND_PORT = 15443
DEFAULT_OUTBOUND_PORT = 15001
DEFAULT_ADMIN_PORT = 15000


@dataclass(frozen=True, slots=True)
class SidecarSettings:
    service: str
    app_port: int
    labels: Mapping[str, str] = field(default_factory=dict)
    inbound_port: int = DEFAULT_INBOUND_PORT
    outbound_port: int = DEFAULT_OUTBOUND_PORT
    admin_port: int = DEFAULT_ADMIN_PORT
    inbound_host: str = "0.0.0.0"
    address: str = "127.0.0.1"  # what peers dial; from ECS task metadata when present
    instance_id: str = ""
    zone: str = ""
    weight: int = 1
    app_health_path: str = "/healthz"
    heartbeat_interval: float = 5.0
    ttl: float = 60.0
    registry_refresh: float = 2.0
    config_refresh: float = 2.0
    drain_timeout: float = 20.0
    config_file: str | None = None  # YAML instead of the config table (development, benchmarks)
    access_log: bool = True  # one JSON line per request on stdout
    emf_namespace: str | None = None  # CloudWatch EMF lines on stdout, aggregated per emf_interval
    emf_interval: float = 60.0
    # every listener: header-read timeout, connection cap, TLS handshake timeout (docs/mesh.md "Listener limits")
    limits: ServerLimits = field(default_factory=ServerLimits)
    underscores: UnderscoreAction = "drop"  # header names with `_`, both directions (docs/mesh.md)
    # what the app speaks on app_port, and its other ports (docs/mesh-protocols.md, "Protocol selection")
    app_protocol: Protocol = Protocol.AUTO
    app_ports: tuple[PortProtocol, ...] = ()
    # local listeners for opaque TCP to mesh services: [LOCAL=]SERVICE:PORT[/tls] (docs/mesh-protocols.md)
    tcp_upstreams: tuple[TcpUpstream, ...] = ()

    @property
    def app_port_protocols(self) -> dict[int, PortProtocol]:
        """Every app port the inbound side forwards to, with its protocol; app_port first."""
        source = "default" if self.app_protocol is Protocol.AUTO else "flag"
        main = PortProtocol(self.app_port, self.app_protocol, source)
        return {main.port: main, **{p.port: p for p in self.app_ports if p.port != self.app_port}}

    @property
    def stale_after(self) -> float:
        """A heartbeat older than three intervals means the instance is gone, whatever TTL has not yet deleted."""
        return 3 * self.heartbeat_interval


def _env(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(f"PORTICO_{name}")
    return value if value not in (None, "") else None


def resolve(
    *,
    service: str | None,
    app_port: int | None,
    labels: str | None = None,
    inbound_port: int | None = None,
    outbound_port: int | None = None,
    admin_port: int | None = None,
    address: str | None = None,
    instance_id: str | None = None,
    config_file: str | None = None,
    app_protocol: str | None = None,
    app_ports: str | None = None,
    tcp_upstreams: str | None = None,
    env: Mapping[str, str] | None = None,
) -> SidecarSettings:
    """Settings from flags (None = not given) and PORTICO_* variables; raises ValueError naming what is wrong."""
    e = dict(os.environ) if env is None else env
    svc = service or _env(e, "SERVICE")
    port = app_port or _int(_env(e, "APP_PORT"), "PORTICO_APP_PORT")
    if not svc:
        raise ValueError("--service (or PORTICO_SERVICE) is required")
    if not port:
        raise ValueError("--app-port (or PORTICO_APP_PORT) is required")
    return SidecarSettings(
        service=svc,
        app_port=port,
        labels=parse_labels(labels if labels is not None else (_env(e, "LABELS") or "")),
        inbound_port=_pick(inbound_port, _env(e, "INBOUND_PORT"), DEFAULT_INBOUND_PORT, "PORTICO_INBOUND_PORT"),
        outbound_port=_pick(outbound_port, _env(e, "OUTBOUND_PORT"), DEFAULT_OUTBOUND_PORT, "PORTICO_OUTBOUND_PORT"),
        admin_port=_pick(admin_port, _env(e, "ADMIN_PORT"), DEFAULT_ADMIN_PORT, "PORTICO_ADMIN_PORT"),
        address=address or _env(e, "ADDRESS") or "127.0.0.1",
        instance_id=instance_id or _env(e, "INSTANCE_ID") or f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}",
        weight=_weight(_int(_env(e, "WEIGHT"), "PORTICO_WEIGHT")),
        app_health_path=_env(e, "APP_HEALTH_PATH") or "/healthz",
        heartbeat_interval=_float(_env(e, "HEARTBEAT_INTERVAL"), 5.0),
        ttl=_float(_env(e, "REGISTRY_TTL"), 60.0),
        registry_refresh=_float(_env(e, "REGISTRY_REFRESH"), 2.0),
        config_refresh=_float(_env(e, "CONFIG_REFRESH"), 2.0),
        drain_timeout=_float(_env(e, "DRAIN_TIMEOUT"), 20.0),
        config_file=config_file or _env(e, "CONFIG_FILE"),
        access_log=_flag(_env(e, "ACCESS_LOG"), "PORTICO_ACCESS_LOG"),
        emf_namespace=_namespace(_env(e, "EMF_NAMESPACE")),
        emf_interval=_positive(_env(e, "EMF_INTERVAL"), 60.0, "PORTICO_EMF_INTERVAL"),
        limits=limits_from_env(e),
        underscores=underscore_action(_env(e, "HEADERS_WITH_UNDERSCORES"), "PORTICO_HEADERS_WITH_UNDERSCORES"),
        app_protocol=_app_protocol(app_protocol or _env(e, "APP_PROTOCOL")),
        app_ports=_app_ports(app_ports if app_ports is not None else _env(e, "APP_PORTS"), port),
        tcp_upstreams=parse_upstreams(
            tcp_upstreams if tcp_upstreams is not None else (_env(e, "TCP_UPSTREAMS") or ""),
            "--tcp-upstreams (PORTICO_TCP_UPSTREAMS)",
        ),
    )


def _app_protocol(value: str | None) -> Protocol:
    return parse_protocol(value, "--app-protocol (PORTICO_APP_PROTOCOL)") if value else Protocol.AUTO


def _app_ports(value: str | None, app_port: int) -> tuple[PortProtocol, ...]:
    ports = parse_port_list(value or "", "--app-ports (PORTICO_APP_PORTS)")
    if any(p.port == app_port for p in ports):
        raise ValueError(f"--app-ports names the app port {app_port}: set its protocol with --app-protocol")
    return ports


def _int(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {value!r}") from exc


def _weight(value: int | None) -> int:
    """The instance's share of traffic; 0 drains it (no new requests while any peer has a weight)."""
    if value is None:
        return 1
    if not 0 <= value <= 10_000:
        raise ValueError(f"PORTICO_WEIGHT must be between 0 and 10000, got {value}")
    return value


def _float(value: str | None, default: float) -> float:
    return float(value) if value is not None else default


def _pick(flag: int | None, env_value: str | None, default: int, name: str) -> int:
    if flag is not None:
        return flag
    parsed = _int(env_value, name)
    return parsed if parsed is not None else default


def _flag(value: str | None, name: str, default: bool = True) -> bool:
    if value is None:
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false, got {value!r}")


def _positive(value: str | None, default: float, name: str) -> float:
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if number <= 0:
        raise ValueError(f"{name} must be a number of seconds above 0, got {value!r}")
    return number


def _namespace(value: str | None) -> str | None:
    """A CloudWatch namespace: 1-255 printable characters, not starting with "AWS/" (reserved)."""
    if value is not None and (len(value) > 255 or not value.isprintable() or value.startswith("AWS/")):
        raise ValueError(f"PORTICO_EMF_NAMESPACE={value!r} must be 1-255 printable characters, not AWS/...")
    return value
