"""Istio features Portico does not implement: one table, so each gets "not supported by Portico: <feature>".

Istio users bring their files as they are. A field or kind Portico does not enforce must be refused by name, never
as an "unknown field" (it is not unknown: it is Istio's) nor with a misleading error such as "spec.http: Field
required" for a tcp-only VirtualService. This table is checked before the models validate a document; when a
feature is implemented (as `tcp` and `tls` routes were), its line moves from here into the model.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from portico.core.config.istio_security import CONDITION_KEY

PREFIX = "not supported by Portico: "

KINDS: dict[str, str] = {
    "Gateway": "Istio Gateway (ingress and egress gateways; Portico's ingress is the edge, with Route documents)",
    "ServiceEntry": "Istio ServiceEntry (services outside the mesh registry)",
    "Sidecar": "Istio Sidecar (per-workload proxy scoping)",
    "PeerAuthentication": "Istio PeerAuthentication (Portico's mesh mTLS is always STRICT)",
    "RequestAuthentication": "Istio RequestAuthentication (end-user JWTs are verified at the edge, by Route auth)",
    "EnvoyFilter": "Istio EnvoyFilter",
    "WorkloadEntry": "Istio WorkloadEntry (instances come from the registry)",
    "WorkloadGroup": "Istio WorkloadGroup (instances come from the registry)",
    "Telemetry": "Istio Telemetry (Portico's telemetry is configured on the sidecar)",
    "ProxyConfig": "Istio ProxyConfig",
    "WasmPlugin": "Istio WasmPlugin",
}

# (kind, path) -> the feature. A path is dotted field names as the user writes them; `*` stands for each item of
# a list (or each value of a map).
FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "VirtualService": (
        *(
            (f"spec.{section}.*.match.*.{name}", f"{what} ({section}[].match[].{name})")
            for section in ("tcp", "tls")
            for name, what in (
                ("sourceLabels", "matches by source labels"),
                ("gateways", "matches by gateway"),
                ("destinationSubnets", "matches by destination subnet"),
                ("sourceNamespace", "matches by source namespace"),
                ("sourceSubnet", "matches by source subnet"),
            )
        ),
        ("spec.http.*.delegate", "VirtualService delegation (http[].delegate)"),
        ("spec.http.*.redirect", "HTTP redirects (http[].redirect)"),
        ("spec.http.*.directResponse", "direct responses (http[].directResponse)"),
        ("spec.http.*.mirrors", "several mirrors (http[].mirrors; use mirror)"),
        ("spec.http.*.match.*.gateways", "matches by gateway (http[].match[].gateways)"),
        ("spec.http.*.match.*.sourceNamespace", "matches by source namespace (http[].match[].sourceNamespace)"),
        ("spec.http.*.match.*.statPrefix", "per-match stat prefixes (http[].match[].statPrefix)"),
        # accepted by the model once but never enforced: refused by name rather than silently matching everything
        ("spec.http.*.match.*.sourceLabels", "matches by source labels (http[].match[].sourceLabels)"),
        ("spec.http.*.match.*.port", "matches by port on http routes (http[].match[].port)"),
    ),
    "DestinationRule": (
        ("spec.trafficPolicy.portLevelSettings", "per-port traffic policies (trafficPolicy.portLevelSettings)"),
        (
            "spec.subsets.*.trafficPolicy.portLevelSettings",
            "per-port traffic policies (trafficPolicy.portLevelSettings)",
        ),
        ("spec.trafficPolicy.tunnel", "tunnelled traffic (trafficPolicy.tunnel)"),
        ("spec.trafficPolicy.proxyProtocol", "the PROXY protocol (trafficPolicy.proxyProtocol)"),
        (
            "spec.trafficPolicy.loadBalancer.localityLbSetting",
            "locality load balancing (loadBalancer.localityLbSetting)",
        ),
        ("spec.workloadSelector", "DestinationRule workloadSelector"),
    ),
    "AuthorizationPolicy": (
        ("spec.provider", "external authorization providers (AuthorizationPolicy provider, the CUSTOM action)"),
        ("spec.targetRef", "AuthorizationPolicy targetRef (Kubernetes Gateway API)"),
        ("spec.targetRefs", "AuthorizationPolicy targetRefs (Kubernetes Gateway API)"),
        (
            "spec.rules.*.from.*.source.requestPrincipals",
            "request principals (source.requestPrincipals: end-user JWTs are not verified at the sidecar)",
        ),
        (
            "spec.rules.*.from.*.source.notRequestPrincipals",
            "request principals (source.notRequestPrincipals: end-user JWTs are not verified at the sidecar)",
        ),
        ("spec.rules.*.from.*.source.remoteIpBlocks", "original client addresses (source.remoteIpBlocks)"),
        ("spec.rules.*.from.*.source.notRemoteIpBlocks", "original client addresses (source.notRemoteIpBlocks)"),
        ("spec.rules.*.to.*.operation.notHosts", "operation.notHosts"),
    ),
}

ACTIONS = {
    "AUDIT": "the AUDIT action of AuthorizationPolicy",
    "CUSTOM": "the CUSTOM action of AuthorizationPolicy (external authorization)",
}

# Istio's condition keys that the sidecar does not evaluate (the ones it does are CONDITION_KEY).
CONDITION_FEATURES = {
    "remote.ip": "original client addresses",
    "request.auth.principal": "end-user JWTs are not verified at the sidecar",
    "request.auth.audiences": "end-user JWTs are not verified at the sidecar",
    "request.auth.presenter": "end-user JWTs are not verified at the sidecar",
    "destination.ip": "destination addresses",
    "connection.sni": "TLS SNI of the connection",
    "experimental.": "experimental Envoy filter metadata",
}


def _walk(value: Any, parts: list[str], where: str) -> Iterator[str]:
    if not parts:
        yield where
        return
    head, rest = parts[0], parts[1:]
    if head == "*":
        items = enumerate(value) if isinstance(value, list) else value.items() if isinstance(value, dict) else ()
        for key, item in items:
            yield from _walk(item, rest, f"{where}[{key}]" if isinstance(key, int) else f"{where}.{key}")
    elif isinstance(value, dict) and head in value:
        yield from _walk(value[head], rest, f"{where}.{head}" if where else head)


def unsupported(raw: dict[str, Any]) -> list[tuple[str, str]]:
    """(field path, message) for every Istio feature in this document that Portico does not implement."""
    kind = raw.get("kind")
    if isinstance(kind, str) and kind in KINDS:
        return [("kind", PREFIX + KINDS[kind])]
    found = [
        (path, PREFIX + feature)
        for pattern, feature in FIELDS.get(str(kind), ())
        for path in _walk(raw, pattern.split("."), "")
    ]
    if kind == "AuthorizationPolicy":
        found += _authorization_policy(raw)
    if kind == "VirtualService":
        found += _gateways(raw)
    return found


def _gateways(raw: dict[str, Any]) -> list[tuple[str, str]]:
    """`spec.gateways` naming anything but `mesh` binds the routes to an ingress/egress gateway, which Portico's
    sidecars are not: applying them in the mesh instead would be silently wrong."""
    spec = raw.get("spec")
    names = spec.get("gateways") if isinstance(spec, dict) else None
    if not isinstance(names, list):
        return []
    return [
        (f"spec.gateways[{i}]", f"{PREFIX}routes bound to Istio gateway {name!r} (spec.gateways other than mesh)")
        for i, name in enumerate(names)
        if name != "mesh"
    ]


def _authorization_policy(raw: dict[str, Any]) -> list[tuple[str, str]]:
    spec = raw.get("spec")
    if not isinstance(spec, dict):
        return []
    found = []
    action = spec.get("action")
    if isinstance(action, str) and action in ACTIONS:
        found.append(("spec.action", PREFIX + ACTIONS[action]))
    for path in _walk(raw, ["spec", "rules", "*", "when", "*", "key"], ""):
        key = _get(raw, path)
        if not isinstance(key, str) or CONDITION_KEY.match(key):
            continue
        for prefix, reason in CONDITION_FEATURES.items():
            if key == prefix or (prefix.endswith(".") and key.startswith(prefix)):
                found.append((path, f"{PREFIX}the condition key {key!r} ({reason})"))
    return found


def _get(raw: Any, path: str) -> Any:
    value = raw
    for part in path.replace("[", ".").replace("]", "").split("."):
        value = value[int(part)] if isinstance(value, list) else value.get(part) if isinstance(value, dict) else None
    return value
