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
    listener,
    node_host,
    request_timeout,
    sidecar,
    tls_mode_verdict,
    traffic_policy,
)
from portico.core.appmesh.policies import callers_by_service, policies
from portico.core.appmesh.report import Report
from portico.core.appmesh.routes import http_entry, order_key, route_kind, tcp_entry
from portico.core.appmesh.shape import check_shape
from portico.core.appmesh.values import APPMESH_TIMEOUT, DEFAULT_RETRIES, duration, service_of, slug
from portico.core.appmesh.verdicts import cover_resource, protocol_verdict
from portico.core.config.configset import ConfigSet
from portico.core.config.loader import validate_document

NETWORKING = "networking.istio.io/v1"
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
        check_shape(res)
        index.add(res, out.report)
    routes = _routes_by_router(index, out.report)
    nodes = {n.name: n for n in index.of("VirtualNode")}
    reached = {vs.name: _virtual_service(vs, index, routes, nodes, out) for vs in index.of("VirtualService")}
    out.documents.extend(_destination_rules(nodes, reached, out.report))
    for node in nodes.values():
        tls_mode_verdict(node, out.report)
        out.sidecars.append(sidecar(node, out.report))
    gateway_targets = _edge_routes(index, out)
    callers = callers_by_service(nodes, gateway_targets)
    out.documents.extend(policies(reached, callers, nodes, out.report, trust_domain=trust_domain, namespace=namespace))
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
) -> set[str]:
    """Emit the VirtualService of one App Mesh virtual service; return the virtual nodes it sends traffic to."""
    provider = vs.spec.get("provider") or {}
    router = (provider.get("virtualRouter") or {}).get("virtualRouterName")
    node = (provider.get("virtualNode") or {}).get("virtualNodeName")

    def host_of(name: str) -> str:
        found = nodes.get(name)
        return node_host(found) if found is not None else name

    def node_timeout(name: str) -> float | None:
        found = nodes.get(name)
        return request_timeout(found) if found is not None else APPMESH_TIMEOUT

    http: list[dict[str, Any]] = []
    tcp: list[dict[str, Any]] = []
    if isinstance(router, str):
        found_router = index.get("VirtualRouter", router)
        if found_router is None:
            raise ImportFailure(
                vs.file,
                f"names VirtualRouter {router!r}, which is not in the input",
                resource=vs.label,
                field="spec.provider.virtualRouter.virtualRouterName",
            )
        for route in sorted(routes.get(router, []), key=order_key):
            entry = http_entry(route, host_of, node_timeout, out.report)
            if entry is not None:
                http.append(entry)
            elif (l4 := tcp_entry(route, host_of)) is not None:
                tcp.append(l4)
        protocol_verdict(found_router, out.report)
    elif isinstance(node, str) and _speaks_tcp(nodes.get(node)):
        tcp.append({"route": [{"destination": {"host": host_of(node), "subset": node}}]})
        out.report.override(
            vs.file,
            vs.label,
            "spec.provider.virtualNode",
            "mapped",
            "VirtualService tcp[] route[].destination.subset",
            "the node listens for TCP; callers reach it through their sidecar's --tcp-upstreams",
        )
    elif isinstance(node, str):
        only: dict[str, Any] = {
            "name": f"{slug(node)}-provider",
            "route": [{"destination": {"host": host_of(node), "subset": node}}],
        }
        timeout = node_timeout(node)
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
    if not http and not tcp:
        return set()
    spec: dict[str, Any] = {"hosts": [vs.name]}
    if http:
        spec["http"] = http
    if tcp:
        spec["tcp"] = tcp
    out.documents.append(
        {"apiVersion": NETWORKING, "kind": "VirtualService", "metadata": {"name": _name(vs.name)}, "spec": spec}
    )
    return {d["destination"]["subset"] for e in http + tcp for d in e["route"]}


def _name(text: str) -> str:
    return slug(text.replace("${", "").replace("}", ""))


def _destination_rules(
    nodes: dict[str, Resource], reached: dict[str, set[str]], report: Report
) -> list[dict[str, Any]]:
    """One DestinationRule per Portico service, a subset per virtual node registered in it (labels and the
    listener's pool, outlier detection and idle timeouts). A routed-to node missing from the input: a bare subset."""
    by_service: dict[str, list[tuple[str, str, Resource | None]]] = {}
    for name, node in nodes.items():
        host = node_host(node)
        by_service.setdefault(service_of(host), []).append((name, host, node))
    for vs, targets in sorted(reached.items()):
        for name in sorted(targets - set(nodes)):
            by_service.setdefault(service_of(name), []).append((name, name, None))
            report.note(
                "<input>",
                f"VirtualService {vs}",
                f"VirtualNode {name}",
                "partial",
                f"subset {name}",
                "the node is not in the input: its listener settings and sidecar are not written",
            )
    docs = []
    for service, members in sorted(by_service.items()):
        members.sort(key=lambda m: m[0])
        subsets = []
        for name, _, member in members:
            subset: dict[str, Any] = {"name": name, "labels": {NODE_LABEL: name}}
            if member is not None and (policy := traffic_policy(member)):
                subset["trafficPolicy"] = policy
            subsets.append(subset)
        spec: dict[str, Any] = {"host": members[0][1], "subsets": subsets}
        if len(subsets) == 1 and "trafficPolicy" in subsets[0]:
            spec["trafficPolicy"] = subsets[0]["trafficPolicy"]  # callers naming the host directly get it too
        docs.append(
            {"apiVersion": NETWORKING, "kind": "DestinationRule", "metadata": {"name": _name(service)}, "spec": spec}
        )
    return docs


def _speaks_tcp(node: Resource | None) -> bool:
    return node is not None and (listener(node).get("portMapping") or {}).get("protocol") == "tcp"


def _edge_routes(index: _Index, out: Translation) -> list[str]:
    """Gateway routes become edge Routes; returns the virtual services they target (the edge calls them)."""
    targets = []
    for route in index.of("GatewayRoute"):
        if route.parent is not None and index.get("VirtualGateway", route.parent) is None:
            raise ImportFailure(
                route.file,
                f"names VirtualGateway {route.parent!r}, which is not in the input",
                resource=route.label,
                field="virtualGatewayName",
            )
        doc, target = edge_route(route)
        out.documents.append(doc)
        targets.append(target)
        vs = index.get("VirtualService", target)
        if vs is None:
            why = f"virtual service {target} is not in the input"
        elif (vs.spec.get("provider") or {}).get("virtualRouter"):
            why = (
                "the edge calls a live instance of the service directly: the virtual router's routes and "
                "weights apply to calls between sidecars, not from the edge"
            )
        else:
            continue
        out.report.note(route.file, route.label, "target", "partial", f"service {service_of(target)}", why)
    return targets


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
