"""Gateway routes as edge Routes: the virtual gateway's job is the edge's in Portico (API Gateway + Lambda)."""

from __future__ import annotations

import re
from typing import Any

from portico.core.appmesh.errors import ImportFailure
from portico.core.appmesh.inputs import Resource
from portico.core.appmesh.values import APPMESH_TIMEOUT, duration, service_of, slug, user_regex

_KINDS = ("httpRoute", "http2Route", "grpcRoute")


def edge_route(route: Resource) -> tuple[dict[str, Any], str]:
    """The Route document for a gateway route, and the virtual service it targets."""
    kinds = [k for k in _KINDS if k in route.spec]
    if len(kinds) != 1:
        raise ImportFailure(
            route.file,
            "a gateway route spec holds exactly one of httpRoute, http2Route, grpcRoute",
            resource=route.label,
            field="spec",
        )
    kind = kinds[0]
    body = route.spec[kind]
    action = body.get("action") or {}
    target = ((action.get("target") or {}).get("virtualService") or {}).get("virtualServiceName")
    if not isinstance(target, str) or not target:
        raise ImportFailure(
            route.file,
            "the target virtual service is required",
            resource=route.label,
            field=f"spec.{kind}.action.target.virtualService.virtualServiceName",
        )
    match = body.get("match") or {}
    spec: dict[str, Any] = {"match": _match(route, kind, match), "auth": {"none": {}}}
    spec["upstream"] = {"service": {"name": service_of(target), "timeout": duration(APPMESH_TIMEOUT)}}
    priority = route.spec.get("priority")
    if isinstance(priority, int):
        spec["priority"] = 1001 - priority
    rewrite = _rewrite(match, action.get("rewrite") or {}, kind)
    if rewrite is not None:
        spec["transform"] = {"request": {"path": rewrite}}
    name = slug(f"{route.parent}-{route.name}" if route.parent else route.name)
    return {"apiVersion": "portico/v1", "kind": "Route", "metadata": {"name": name}, "spec": spec}, target


def _match(route: Resource, kind: str, match: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    field = f"spec.{kind}.match"
    if isinstance(match.get("path"), dict) and "regex" in match["path"]:
        user_regex(match["path"]["regex"], route.file, route.label, f"{field}.path.regex")
    for i, h in enumerate(match.get("headers") or []):
        if isinstance((h or {}).get("match"), dict) and "regex" in h["match"]:
            user_regex(h["match"]["regex"], route.file, route.label, f"{field}.headers[{i}].match.regex")
    host = match.get("hostname") or {}
    if host.get("exact"):
        out["host"] = str(host["exact"]).lower()
    elif host.get("suffix"):
        out["host"] = "*." + str(host["suffix"]).lower().lstrip("*.")
    if kind == "grpcRoute":
        service = match.get("serviceName")
        out["pathPrefix"] = f"/{service}" if service else "/"
        out["methods"] = ["POST"]
    elif match.get("prefix"):
        out["pathPrefix"] = "/" + str(match["prefix"]).strip("/") if str(match["prefix"]).strip("/") else "/"
    elif isinstance(match.get("path"), dict) and (match["path"].get("exact") or match["path"].get("regex")):
        exact = match["path"].get("exact")
        out["pathRegex"] = f"^{re.escape(str(exact))}$" if exact else str(match["path"]["regex"])
    else:
        out["pathPrefix"] = "/"
    if match.get("method"):
        out["methods"] = [str(match["method"]).upper()]
    headers = []
    for h in match.get("headers") or []:
        m = h.get("match") or {}
        if h.get("invert") or "range" in m:
            continue  # reported as unmapped; never widened
        one: dict[str, Any] = {k: str(m[k]) for k in ("exact", "prefix", "regex") if k in m}
        if "suffix" in m:
            one = {"regex": ".*" + re.escape(str(m["suffix"]))}
        headers.append({"name": str(h["name"]).lower(), **(one or {"present": True})})
    if headers:
        out["headers"] = headers
    query = [
        {
            "name": str(q["name"]),
            **({"exact": str(q["match"]["exact"])} if (q.get("match") or {}).get("exact") else {"present": True}),
        }
        for q in match.get("queryParameters") or []
    ]
    if query:
        out["query"] = query
    return out


def _rewrite(match: dict[str, Any], rewrite: dict[str, Any], kind: str) -> dict[str, str] | None:
    """App Mesh replaces a matched prefix with `/` unless told otherwise (defaultPrefix ENABLED)."""
    if kind == "grpcRoute":
        return None
    path = (rewrite.get("path") or {}).get("exact")
    if path:
        return {"template": str(path)}
    prefix = str(match.get("prefix") or "")
    if not prefix or prefix == "/":
        return None
    spec = rewrite.get("prefix") or {}
    if spec.get("defaultPrefix") == "DISABLED" and not spec.get("value"):
        return None
    value = str(spec.get("value") or "/").replace("\\", "\\\\")  # a literal replacement for re.sub
    return {"regex": f"^{re.escape(prefix.rstrip('/'))}/?", "substitution": value}
