"""An App Mesh Route (http, http2, grpc) as one VirtualService `http[]` entry, App Mesh's defaults written out."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from portico.core.appmesh.errors import ImportFailure
from portico.core.appmesh.inputs import Resource
from portico.core.appmesh.report import Report
from portico.core.appmesh.values import (
    APPMESH_TIMEOUT,
    DEFAULT_RETRIES,
    duration,
    retry_on,
    scale_weights,
    seconds,
    user_regex,
)

ROUTE_KINDS = ("httpRoute", "http2Route", "grpcRoute", "tcpRoute")


def route_kind(route: Resource) -> str:
    present = [k for k in ROUTE_KINDS if k in route.spec]
    if len(present) != 1:
        raise ImportFailure(
            route.file,
            "a route spec holds exactly one of httpRoute, http2Route, grpcRoute, tcpRoute",
            resource=route.label,
            field="spec",
        )
    return present[0]


def order_key(route: Resource) -> tuple[int, int, str]:
    """App Mesh's order: lower priority first (unset last), then the longer prefix, then the name."""
    priority = route.spec.get("priority")
    body = route.spec.get(route_kind(route), {})
    match = body.get("match", {}) if isinstance(body, dict) else {}
    prefix = match.get("prefix", "") if isinstance(match, dict) else ""
    return (priority if isinstance(priority, int) else 1001, -len(str(prefix)), route.name)


def weighted_targets(route: Resource, kind: str) -> list[tuple[str, int]]:
    """(virtual node, weight scaled to 100) per target; weights are checked as App Mesh does."""
    field = f"spec.{kind}.action.weightedTargets"
    targets = route.spec[kind].get("action", {}).get("weightedTargets")
    if not isinstance(targets, list) or not targets:
        raise ImportFailure(route.file, "a route needs at least one weighted target", resource=route.label, field=field)
    nodes: list[str] = []
    weights: list[int] = []
    for i, target in enumerate(targets):
        node, weight = target.get("virtualNode"), target.get("weight")
        if not isinstance(node, str) or not node:
            raise ImportFailure(
                route.file, "virtualNode is required", resource=route.label, field=f"{field}[{i}].virtualNode"
            )
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
            raise ImportFailure(
                route.file,
                f"weight {weight!r} is not an integer from 0 to 100",
                resource=route.label,
                field=f"{field}[{i}].weight",
            )
        if node in nodes:
            weights[nodes.index(node)] += weight
        else:
            nodes.append(node)
            weights.append(weight)
    if sum(weights) == 0:
        raise ImportFailure(route.file, "every weight is 0: nothing would be routed", resource=route.label, field=field)
    return list(zip(nodes, scale_weights(weights), strict=True))


def _string_match(m: dict[str, Any]) -> dict[str, str] | None:
    if "exact" in m:
        return {"exact": str(m["exact"])}
    if "prefix" in m:
        return {"prefix": str(m["prefix"])}
    if "suffix" in m:
        return {"regex": ".*" + re.escape(str(m["suffix"]))}
    if "regex" in m:
        return {"regex": str(m["regex"])}
    return None


def _match(route: Resource, kind: str, report: Report) -> dict[str, Any]:
    m = route.spec[kind].get("match") or {}
    field = f"spec.{kind}.match"
    if isinstance(m.get("path"), dict) and "regex" in m["path"]:
        user_regex(m["path"]["regex"], route.file, route.label, f"{field}.path.regex")
    for key in ("headers", "metadata"):
        for i, h in enumerate(m.get(key) or []):
            if isinstance((h or {}).get("match"), dict) and "regex" in h["match"]:
                user_regex(h["match"]["regex"], route.file, route.label, f"{field}.{key}[{i}].match.regex")
    out: dict[str, Any] = {}
    if kind == "grpcRoute":
        service, method = m.get("serviceName"), m.get("methodName")
        if service and method:
            out["uri"] = {"exact": f"/{service}/{method}"}
        elif service:
            out["uri"] = {"prefix": f"/{service}/"}
        headers = m.get("metadata", [])
    else:
        if "prefix" in m:
            out["uri"] = {"prefix": str(m["prefix"])}
        elif isinstance(m.get("path"), dict) and _string_match(m["path"]):
            out["uri"] = _string_match(m["path"])
        if m.get("method"):
            out["method"] = {"exact": str(m["method"])}
        if m.get("scheme"):
            out["scheme"] = {"exact": str(m["scheme"])}
        headers = m.get("headers", [])
        params = {
            str(q["name"]): {"exact": str(q.get("match", {}).get("exact", ""))} for q in m.get("queryParameters", [])
        }
        if params:
            out["queryParams"] = params
    for h in headers:
        if isinstance(h.get("match"), dict) and "range" in h["match"]:
            continue  # no range matcher in Portico: reported as unmapped, not widened to "any value"
        matcher = _string_match(h.get("match") or {}) if isinstance(h.get("match"), dict) else None
        if matcher is None:
            matcher = {"regex": ".*"}  # a header with no value matcher, or a range: present with any value
        out.setdefault("withoutHeaders" if h.get("invert") else "headers", {})[str(h["name"]).lower()] = matcher
    return out


def http_entry(
    route: Resource, host_of: Callable[[str], str], node_timeout: Callable[[str], float | None], report: Report
) -> dict[str, Any] | None:
    """The VirtualService http[] entry for `route`, or None for a tcpRoute (see tcp_entry)."""
    kind = route_kind(route)
    if kind == "tcpRoute":
        return None
    route.spec[kind]
    targets = weighted_targets(route, kind)
    entry: dict[str, Any] = {"name": route.name}
    match = _match(route, kind, report)
    if match:
        entry["match"] = [match]
    entry["route"] = [
        {"destination": {"host": host_of(node), "subset": node}, **({"weight": w} if len(targets) > 1 else {})}
        for node, w in targets
    ]
    timeout = _timeout(route, kind, [n for n, _ in targets], node_timeout, report)
    if timeout is not None:
        entry["timeout"] = duration(timeout)
    entry["retries"] = _retries(route, kind, report)
    return entry


def _timeout(
    route: Resource, kind: str, nodes: list[str], node_timeout: Callable[[str], float | None], report: Report
) -> float | None:
    """App Mesh enforces the route's and the target listener's perRequest (both 15 s unless set; 0 disables)."""
    per_request = route.spec[kind].get("timeout", {}).get("perRequest")
    field = f"spec.{kind}.timeout.perRequest"
    own = seconds(per_request, route.file, route.label, field) if per_request is not None else APPMESH_TIMEOUT
    if per_request is None:
        report.note(
            route.file,
            route.label,
            f"{field} (absent)",
            "default",
            "timeout: 15s",
            "App Mesh's default route timeout; Istio and Portico have none",
        )
    limits = [t for t in (own, *(node_timeout(n) for n in nodes)) if t]
    return min(limits) if limits else None


def _retries(route: Resource, kind: str, report: Report) -> dict[str, Any]:
    policy = route.spec[kind].get("retryPolicy")
    field = f"spec.{kind}.retryPolicy"
    if policy is None:
        report.note(
            route.file,
            route.label,
            f"{field} (absent)",
            "default",
            f"retries: attempts {DEFAULT_RETRIES['attempts']}, retryOn {DEFAULT_RETRIES['retryOn']}",
            "App Mesh's default retry policy; Portico's default retries idempotent methods only",
        )
        return dict(DEFAULT_RETRIES)
    attempts = policy.get("maxRetries")
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
        raise ImportFailure(
            route.file,
            f"maxRetries {attempts!r} is not an integer >= 0",
            resource=route.label,
            field=f"{field}.maxRetries",
        )
    out: dict[str, Any] = {"attempts": attempts, "retryOn": retry_on(policy, route.file, route.label, field)}
    if policy.get("perRetryTimeout") is not None:
        per_try = seconds(policy["perRetryTimeout"], route.file, route.label, f"{field}.perRetryTimeout")
        if per_try > 0:
            out["perTryTimeout"] = duration(per_try)
    return out


def tcp_entry(route: Resource, host_of: Callable[[str], str]) -> dict[str, Any] | None:
    """The VirtualService tcp[] entry for a tcpRoute: match on port, weighted targets (with their ports)."""
    if route_kind(route) != "tcpRoute":
        return None
    body = route.spec["tcpRoute"]
    targets = weighted_targets(route, "tcpRoute")
    ports = {t.get("virtualNode"): t.get("port") for t in body.get("action", {}).get("weightedTargets") or []}
    entry: dict[str, Any] = {}
    port = (body.get("match") or {}).get("port")
    if isinstance(port, int) and not isinstance(port, bool):
        entry["match"] = [{"port": port}]
    routes = []
    for node, weight in targets:
        destination: dict[str, Any] = {"host": host_of(node), "subset": node}
        if isinstance(ports.get(node), int):
            destination["port"] = {"number": ports[node]}
        routes.append({"destination": destination, **({"weight": weight} if len(targets) > 1 else {})})
    entry["route"] = routes
    return entry
