"""A virtual node as a DestinationRule subset (pools, outlier detection, idle timeouts) and sidecar settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portico.core.appmesh.errors import ImportFailure
from portico.core.appmesh.inputs import Resource
from portico.core.appmesh.report import Report
from portico.core.appmesh.values import APPMESH_TIMEOUT, duration, seconds, service_of
from portico.core.mesh.protocol import APPMESH, from_appmesh

NODE_LABEL = "appmesh-node"


@dataclass(frozen=True)
class Sidecar:
    """How to start the sidecar of one virtual node: its registry entry (service, labels) and settings."""

    node: str
    service: str
    app_port: int | None
    labels: dict[str, str]
    env: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        labels = ",".join(f"{k}={v}" for k, v in self.labels.items())
        command = f"portico sidecar --service {self.service} --app-port {self.app_port or '<port>'} --labels {labels}"
        out: dict[str, Any] = {"node": self.node, "service": self.service, "appPort": self.app_port}
        out["labels"] = dict(self.labels)
        if self.env:
            out["env"] = dict(self.env)
        out["command"] = command
        return out


def listener(node: Resource) -> dict[str, Any]:
    """The first listener: a Portico sidecar fronts one app port (more are reported as unmapped)."""
    listeners = node.spec.get("listeners") or []
    if not isinstance(listeners, list):
        raise ImportFailure(node.file, "listeners must be a list", resource=node.label, field="spec.listeners")
    first = listeners[0] if listeners else {}
    return first if isinstance(first, dict) else {}


def request_timeout(node: Resource) -> float | None:
    """The listener's perRequest timeout (App Mesh: 15 s unless set; 0 disables), for the routes to this node."""
    timeout = listener(node).get("timeout") or {}
    for proto in ("http", "http2", "grpc"):
        per = (timeout.get(proto) or {}).get("perRequest")
        if per is not None:
            return seconds(per, node.file, node.label, f"spec.listeners[0].timeout.{proto}.perRequest") or None
    return APPMESH_TIMEOUT


def traffic_policy(node: Resource) -> dict[str, Any]:
    """Connection pool, outlier detection and idle timeouts of the node's listener, for callers of its subset."""
    lst = listener(node)
    where = "spec.listeners[0]"
    policy: dict[str, Any] = {}
    pool = lst.get("connectionPool") or {}
    tcp: dict[str, Any] = {}
    http: dict[str, Any] = {}
    for proto in ("http", "http2", "grpc", "tcp"):
        limits = pool.get(proto) or {}
        if "maxConnections" in limits:
            tcp["maxConnections"] = _positive(
                node, limits["maxConnections"], f"{where}.connectionPool.{proto}.maxConnections"
            )
        if "maxPendingRequests" in limits:
            http["http1MaxPendingRequests"] = _positive(
                node, limits["maxPendingRequests"], f"{where}.connectionPool.{proto}.maxPendingRequests"
            )
        if "maxRequests" in limits:
            http["http2MaxRequests"] = _positive(
                node, limits["maxRequests"], f"{where}.connectionPool.{proto}.maxRequests"
            )
    timeout = lst.get("timeout") or {}
    for proto in ("http", "http2", "grpc"):
        idle = (timeout.get(proto) or {}).get("idle")
        if idle is not None and (value := seconds(idle, node.file, node.label, f"{where}.timeout.{proto}.idle")):
            http["idleTimeout"] = duration(value)
    tcp_idle = (timeout.get("tcp") or {}).get("idle")
    if tcp_idle is not None and (value := seconds(tcp_idle, node.file, node.label, f"{where}.timeout.tcp.idle")):
        tcp["idleTimeout"] = duration(value)
    if tcp or http:
        policy["connectionPool"] = {k: v for k, v in (("tcp", tcp), ("http", http)) if v}
    outlier = lst.get("outlierDetection")
    if isinstance(outlier, dict):
        policy["outlierDetection"] = _outlier(node, outlier, f"{where}.outlierDetection")
    return policy


def _positive(node: Resource, value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ImportFailure(node.file, f"{value!r} is not an integer >= 1", resource=node.label, field=field)
    return value


def _outlier(node: Resource, outlier: dict[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "consecutive5xxErrors": _positive(node, outlier.get("maxServerErrors"), f"{where}.maxServerErrors")
    }
    for src, dst in (("interval", "interval"), ("baseEjectionDuration", "baseEjectionTime")):
        if outlier.get(src) is not None:
            out[dst] = duration(seconds(outlier[src], node.file, node.label, f"{where}.{src}"))
    percent = outlier.get("maxEjectionPercent")
    if percent is not None:
        if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
            raise ImportFailure(
                node.file, f"{percent!r} is not a percentage", resource=node.label, field=f"{where}.maxEjectionPercent"
            )
        out["maxEjectionPercent"] = percent
    return out


def node_host(node: Resource) -> str:
    """Where the node's instances are: its Cloud Map service or DNS name. Its Portico service is the first label."""
    discovery = node.spec.get("serviceDiscovery") or {}
    cloud = discovery.get("awsCloudMap") or {}
    if isinstance(cloud.get("serviceName"), str):
        namespace = cloud.get("namespaceName")
        return f"{cloud['serviceName']}.{namespace}" if isinstance(namespace, str) else str(cloud["serviceName"])
    dns = discovery.get("dns") or {}
    if isinstance(dns.get("hostname"), str):
        return str(dns["hostname"])
    return node.name


def sidecar(node: Resource, report: Report) -> Sidecar:
    lst = listener(node)
    port = (lst.get("portMapping") or {}).get("port")
    labels = {NODE_LABEL: node.name}
    cloud = (node.spec.get("serviceDiscovery") or {}).get("awsCloudMap") or {}
    for attr in cloud.get("attributes") or []:
        labels[str(attr.get("key"))] = str(attr.get("value"))
    env: dict[str, str] = {}
    protocol = (lst.get("portMapping") or {}).get("protocol")
    if isinstance(protocol, str) and protocol in APPMESH and protocol != "http" and isinstance(port, int):
        # docs/mesh-protocols.md: the app port's protocol; HTTP is what an undeclared port is served as anyway
        env["PORTICO_APP_PROTOCOL"] = from_appmesh(port, protocol).protocol.value
    health = lst.get("healthCheck") or {}
    if health.get("path"):
        env["PORTICO_APP_HEALTH_PATH"] = str(health["path"])
    for policy in _client_policies(node):  # what the node trusts and presents when it calls peers
        env.update(_tls_env(policy))
    env.update(_tls_env(lst.get("tls") or {}))  # the listener's own certificate wins: one identity per sidecar
    for i, _extra in enumerate((node.spec.get("listeners") or [])[1:], start=1):
        report.note(
            node.file,
            node.label,
            f"spec.listeners[{i}]",
            "unmapped",
            "-",
            "a Portico sidecar fronts one app port; run one sidecar per port",
        )
    return Sidecar(node.name, service_of(node_host(node)), port if isinstance(port, int) else None, labels, env)


def _client_policies(node: Resource) -> list[dict[str, Any]]:
    defaults = ((node.spec.get("backendDefaults") or {}).get("clientPolicy") or {}).get("tls")
    per_backend = [
        (((b or {}).get("virtualService") or {}).get("clientPolicy") or {}).get("tls")
        for b in node.spec.get("backends") or []
    ]
    return [p for p in (defaults, *per_backend) if isinstance(p, dict)]


def _tls_env(tls: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    cert = tls.get("certificate") or {}
    if (cert.get("acm") or {}).get("certificateArn"):
        env["PORTICO_CERT_SOURCE"] = "acm"
        env["PORTICO_ACM_CERT_ARN"] = str(cert["acm"]["certificateArn"])
    if cert.get("file"):
        env["PORTICO_CERT_SOURCE"] = "file"
        env["PORTICO_TLS_CERT_FILE"] = str(cert["file"].get("certificateChain", ""))
        env["PORTICO_TLS_KEY_FILE"] = str(cert["file"].get("privateKey", ""))
    trust = (tls.get("validation") or {}).get("trust") or {}
    if (trust.get("file") or {}).get("certificateChain"):
        env["PORTICO_TLS_BUNDLE_FILE"] = str(trust["file"]["certificateChain"])
    arns = (trust.get("acm") or {}).get("certificateAuthorityArns")
    if arns:
        env["PORTICO_TRUST_CA_ARNS"] = ",".join(map(str, arns))
    return env


def tls_mode_verdict(node: Resource, report: Report) -> None:
    """STRICT is what the sidecar always does; PERMISSIVE and DISABLED cannot be kept (never plaintext)."""
    mode = (listener(node).get("tls") or {}).get("mode")
    if mode in ("PERMISSIVE", "DISABLED"):
        report.override(
            node.file,
            node.label,
            "spec.listeners.tls.mode",
            "unmapped",
            "sidecar inbound mTLS (STRICT)",
            f"{mode}: the sidecar never accepts plaintext on its inbound port",
        )
