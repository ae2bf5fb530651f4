"""Who may call whom: App Mesh backends (and gateway routes) as ALLOW AuthorizationPolicies on SPIFFE principals.

App Mesh lets a node reach only the virtual services it lists as backends. Portico checks the other end: each
node's sidecar admits the services that list a virtual service routing to that node, and the edge for gateway
routes. Listener TLS validation SANs that are SPIFFE IDs are admitted too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portico.core.appmesh.inputs import Resource
from portico.core.appmesh.nodes import NODE_LABEL, listener, node_host
from portico.core.appmesh.report import Report
from portico.core.appmesh.values import service_of, slug

SECURITY = "security.istio.io/v1"
EDGE = "edge"  # the edge's mesh identity (docs/mtls.md)


def callers_by_service(nodes: Mapping[str, Resource], gateway_targets: list[str]) -> dict[str, set[str]]:
    """Virtual service name -> the Portico services that call it (its backends' owners, and the edge)."""
    found: dict[str, set[str]] = {}
    for node in nodes.values():
        me = service_of(node_host(node))
        for backend in node.spec.get("backends") or []:
            target = ((backend or {}).get("virtualService") or {}).get("virtualServiceName")
            if isinstance(target, str) and target:
                found.setdefault(target, set()).add(me)
    for target in gateway_targets:
        found.setdefault(target, set()).add(EDGE)
    return found


def policies(
    reached: Mapping[str, set[str]],
    callers: Mapping[str, set[str]],
    nodes: Mapping[str, Resource],
    report: Report,
    *,
    trust_domain: str,
    namespace: str,
) -> list[dict[str, Any]]:
    """One ALLOW policy per virtual node that anything calls, selecting that node's instances."""
    docs = []
    for name in sorted(nodes):
        node = nodes[name]
        allowed = {c for vs, targets in reached.items() if name in targets for c in callers.get(vs, ())}
        principals = {f"spiffe://{trust_domain}/ns/{namespace}/sa/{c}" for c in allowed}
        principals |= _san_principals(node, report)
        if not principals:
            continue
        docs.append(
            {
                "apiVersion": SECURITY,
                "kind": "AuthorizationPolicy",
                "metadata": {"name": slug(name)},
                "spec": {
                    "selector": {"matchLabels": {"app": service_of(node_host(node)), NODE_LABEL: name}},
                    "action": "ALLOW",
                    "rules": [{"from": [{"source": {"principals": sorted(principals)}}]}],
                },
            }
        )
    return docs


def _san_principals(node: Resource, report: Report) -> set[str]:
    sans = (
        (((listener(node).get("tls") or {}).get("validation") or {}).get("subjectAlternativeNames") or {}).get("match")
        or {}
    ).get("exact") or []
    spiffe = {str(s) for s in sans if str(s).startswith("spiffe://")}
    if len(spiffe) < len(sans):
        report.override(
            node.file,
            node.label,
            "spec.listeners.tls.validation.subjectAlternativeNames",
            "partial",
            "AuthorizationPolicy principals",
            "only SPIFFE IDs become principals; a DNS SAN has no Portico equivalent",
        )
    return spiffe
