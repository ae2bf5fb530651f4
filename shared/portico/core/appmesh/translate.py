"""Turns App Mesh resources into Portico documents, sidecar settings and the mapping report (no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import yaml

from portico.core.appmesh.errors import ImportFailure
from portico.core.appmesh.gateways import edge_route
from portico.core.appmesh.inputs import Resource
from portico.core.appmesh.nodes import (
    NODE_LABEL,
    Sidecar,
    discovered_service,
    listener,
    request_timeout,
    sidecar,
    tls_mode_verdict,
    traffic_policy,
)
from portico.core.appmesh.report import Report
from portico.core.appmesh.routes import http_entry, order_key, route_kind
from portico.core.appmesh.values import DEFAULT_RETRIES, duration, service_of, slug
from portico.core.appmesh.verdicts import cover_resource
from portico.core.config.configset import ConfigSet
from portico.core.config.loader import validate_document

NETWORKING = "networking.istio.io/v1"
SECURITY = "security.istio.io/v1"
KIND_ORDER = {"Route": 0, "DestinationRule": 1, "VirtualService": 2, "AuthorizationPolicy": 3}


@dataclass
class Translation:
    documents: list[dict[str, Any]] = field(default_factory=list)
    sidecars: list[Sidecar] = field(default_factory=list)
    report: Report = field(default_factory=Report)


@dataclass
class _Index:
    by_key: dict[tuple[str, str, str], Resource] = field(default_factory=dict)

    def add(self, res: Resource, report: Report) -> None:
        key = (res.kind, res.parent or "", res.name)
        old = self.by_key.get(key)
        if old is not None:
            report.note(
                old.file, old.label, "(whole resource)", "ignored", f"replaced by {res.file}", "a later file updates it"
            )
        self.by_key[key] = res

    def of(self, kind: str) -> list[Resource]:
        return sorted((r for r in self.by_key.values() if r.kind == kind), key=lambda r: (r.parent or "", r.name))

    def get(self, kind: str, name: str) -> Resource | None:
        return self.by_key.get((kind, "", name))


def translate(
    resources: Sequence[Resource], *, trust_domain: str = "cluster.local", namespace: str = "default"
) -> Translation:
    out = Translation()
    index = _Index()
    for res in resources:
        index.add(res, out.report)
    routes = _routes_by_router(index, out.report)
    nodes = {n.name: n for n in index.of("VirtualNode")}
    members: dict[str, list[str]] = {}  # node -> virtual services routing to it
    for vs in index.of("VirtualService"):
        targets = _virtual_service(vs, index, routes, nodes, out)
        for target in targets:
            members.setdefault(target, []).append(vs.name)
    for node in nodes.values():
        service = service_of(members[node.name][0]) if node.name in members else discovered_service(node)
        tls_mode_verdict(node, out.report)
        out.sidecars.append(sidecar(node, service, out.report))
    callers = _callers(index, nodes, members, out)
    for vs_name in sorted(callers):
        out.documents.append(_policy(vs_name, callers[vs_name], trust_domain, namespace))
    for res in index.by_key.values():
        cover_resource(res, out.report)
    out.documents.sort(key=lambda d: (KIND_ORDER[d["kind"]], d["metadata"]["name"]))
    _check(out.documents)
    return out


def _routes_by_router(index: _Index, report: Report) -> dict[str, list[Resource]]:
    routers = {r.name for r in index.of("VirtualRouter")}
    out: dict[str, list[Resource]] = {}
    for route in index.of("Route"):
        route_kind(route)
        parent = route.parent
        if parent is None and len(routers) == 1:
            parent = next(iter(routers))
            report.note(
                route.file,
                route.label,
                "virtualRouterName (absent)",
                "default",
                f"VirtualRouter {parent}",
                "the only VirtualRouter in the input",
            )
        elif parent is None:
            report.override(
                route.file,
                route.label,
                "spec",
                "unmapped",
                "-",
                f"no virtualRouterName, and the input holds {len(routers)} VirtualRouters; add it",
            )
            continue
        elif parent not in routers:
            raise ImportFailure(
                route.file,
                f"names VirtualRouter {parent!r}, which is not in the input",
                resource=route.label,
                field="virtualRouterName",
            )
        out.setdefault(parent, []).append(replace(route, parent=parent))
    return out


def _virtual_service(
    vs: Resource, index: _Index, routes: dict[str, list[Resource]], nodes: dict[str, Resource], out: Translation
) -> list[str]:
    """Emit the VirtualService and DestinationRule of one App Mesh virtual service; return its target nodes."""
    provider = vs.spec.get("provider") or {}
    router = (provider.get("virtualRouter") or {}).get("virtualRouterName")
    node = (provider.get("virtualNode") or {}).get("virtualNodeName")
    host = vs.name

    def node_timeout(name: str) -> float | None:
        found = nodes.get(name)
        return request_timeout(found) if found is not None else 15.0

    http: list[dict[str, Any]] = []
    if isinstance(router, str):
        if index.get("VirtualRouter", router) is None:
            raise ImportFailure(
                vs.file,
                f"names VirtualRouter {router!r}, which is not in the input",
                resource=vs.label,
                field="spec.provider.virtualRouter.virtualRouterName",
            )
        for route in sorted(routes.get(router, []), key=order_key):
            entry = http_entry(route, host, node_timeout, out.report)
            if entry is not None:
                http.append(entry)
        _protocol_verdict(index.get("VirtualRouter", router), out.report)  # type: ignore[arg-type]
    elif isinstance(node, str) and _speaks_tcp(nodes.get(node)):
        out.report.override(
            vs.file,
            vs.label,
            "spec.provider.virtualNode",
            "unmapped",
            "-",
            "the node listens for TCP: the sidecar proxies TCP once the mesh protocols issue lands",
        )
    elif isinstance(node, str):
        timeout = node_timeout(node)
        only: dict[str, Any] = {
            "name": f"{slug(node)}-provider",
            "route": [{"destination": {"host": host, "subset": node}}],
        }
        if timeout:
            only["timeout"] = duration(timeout)
        only["retries"] = dict(DEFAULT_RETRIES)
        out.report.note(
            vs.file,
            vs.label,
            "spec.provider.virtualNode (defaults)",
            "default",
            "timeout 15s and App Mesh's default retries",
            "App Mesh's defaults for a node provider",
        )
        http.append(only)
    if not http:
        return []
    targets = sorted({d["destination"]["subset"] for e in http for d in e["route"]})
    name = slug(host.replace("${", "").replace("}", ""))
    out.documents.append(
        {
            "apiVersion": NETWORKING,
            "kind": "VirtualService",
            "metadata": {"name": name},
            "spec": {"hosts": [host], "http": http},
        }
    )
    subsets = []
    for target in targets:
        subset: dict[str, Any] = {"name": target, "labels": {NODE_LABEL: target}}
        if target in nodes and (policy := traffic_policy(nodes[target])):
            subset["trafficPolicy"] = policy
        elif target not in nodes:
            out.report.note(
                vs.file,
                vs.label,
                f"VirtualNode {target}",
                "partial",
                f"subset {target}",
                "the node is not in the input: its listener settings and sidecar are not written",
            )
        subsets.append(subset)
    out.documents.append(
        {
            "apiVersion": NETWORKING,
            "kind": "DestinationRule",
            "metadata": {"name": name},
            "spec": {"host": host, "subsets": subsets},
        }
    )
    return targets


def _speaks_tcp(node: Resource | None) -> bool:
    return node is not None and (listener(node).get("portMapping") or {}).get("protocol") == "tcp"


def _protocol_verdict(router: Resource, report: Report) -> None:
    from portico.core.appmesh.verdicts import protocol_verdict

    protocol_verdict(router, report)


def _callers(
    index: _Index, nodes: dict[str, Resource], members: dict[str, list[str]], out: Translation
) -> dict[str, set[str]]:
    """Virtual service -> the services allowed to call it: nodes that list it as a backend, and the edge."""
    found: dict[str, set[str]] = {}
    for node in nodes.values():
        me = service_of(members[node.name][0]) if node.name in members else discovered_service(node)
        for backend in node.spec.get("backends") or []:
            target = ((backend or {}).get("virtualService") or {}).get("virtualServiceName")
            if isinstance(target, str) and target:
                found.setdefault(target, set()).add(me)
    for route in index.of("GatewayRoute"):
        doc, target = edge_route(route)
        out.documents.append(doc)
        found.setdefault(target, set()).add("edge")
        if index.get("VirtualService", target) is None:
            out.report.note(
                route.file,
                route.label,
                "target",
                "partial",
                f"service {service_of(target)}",
                f"virtual service {target} is not in the input",
            )
    return found


def _policy(vs_name: str, callers: set[str], trust_domain: str, namespace: str) -> dict[str, Any]:
    principals = sorted(f"spiffe://{trust_domain}/ns/{namespace}/sa/{c}" for c in callers)
    return {
        "apiVersion": SECURITY,
        "kind": "AuthorizationPolicy",
        "metadata": {"name": slug(vs_name.replace("${", "").replace("}", ""))},
        "spec": {
            "selector": {"matchLabels": {"app": service_of(vs_name)}},
            "action": "ALLOW",
            "rules": [{"from": [{"source": {"principals": principals}}]}],
        },
    }


def _check(documents: list[dict[str, Any]]) -> None:
    """What the importer writes passes `portico validate`; a failure here is an importer bug, said plainly."""
    docs = []
    for i, raw in enumerate(documents, start=1):
        doc, issues = validate_document(raw, file="<imported>", index=i)
        if issues:
            raise ImportFailure(
                "<imported>", "; ".join(str(x) for x in issues), resource=f"{raw['kind']} {raw['metadata']['name']}"
            )
        docs.append(doc)
    seen: set[tuple[str, str]] = set()
    for raw in documents:
        key = (raw["kind"], raw["metadata"]["name"])
        if key in seen:
            raise ImportFailure(
                "<imported>",
                "two App Mesh resources become the same Portico document; rename one",
                resource=f"{key[0]} {key[1]}",
            )
        seen.add(key)
    errors = ConfigSet.of([d for d in docs if d is not None]).reference_errors()
    if errors:
        raise ImportFailure("<imported>", "; ".join(errors))


def render(translation: Translation) -> str:
    """The documents as multi-document YAML, byte-identical for the same input."""
    return yaml.safe_dump_all(translation.documents, sort_keys=False, default_flow_style=False, width=120)


def render_sidecars(translation: Translation) -> str:
    return yaml.safe_dump({"sidecars": [s.as_dict() for s in translation.sidecars]}, sort_keys=False, width=120)
