"""Finds the App Mesh resources in one parsed file: a CloudFormation template, a CLI input or a describe output."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from portico.core.appmesh.errors import ImportFailure
from portico.core.appmesh.intrinsics import Scope, condition, resolve
from portico.core.appmesh.keys import camel_tree

KINDS = ("Mesh", "VirtualService", "VirtualRouter", "Route", "VirtualNode", "VirtualGateway", "GatewayRoute")
NAME_FIELD = {
    "Mesh": "meshName",
    "VirtualService": "virtualServiceName",
    "VirtualRouter": "virtualRouterName",
    "Route": "routeName",
    "VirtualNode": "virtualNodeName",
    "VirtualGateway": "virtualGatewayName",
    "GatewayRoute": "gatewayRouteName",
}
PARENT_FIELD = {"Route": "virtualRouterName", "GatewayRoute": "virtualGatewayName"}
_DESCRIBE_KEYS = {f[0].lower() + f[1:].removesuffix("Name"): kind for kind, f in NAME_FIELD.items()}
_ENVELOPE = {"meshName", "meshOwner", "clientToken", "tags", "spec", *NAME_FIELD.values()}


@dataclass(frozen=True)
class Resource:
    """One App Mesh resource, its spec in camelCase with intrinsics resolved."""

    kind: str
    name: str
    file: str
    spec: dict[str, Any]
    parent: str | None = None  # the VirtualRouter of a Route, the VirtualGateway of a GatewayRoute
    origin: str = ""  # where in the file: `Resources.ColorTellerRoute`, `CLI input`, `describe output`
    name_from_file: bool = False
    envelope: dict[str, Any] = field(default_factory=dict)  # meshOwner, clientToken, tags...
    symbols: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"


def resources_in(file: str, data: Any, parameters: Mapping[str, str]) -> list[Resource]:
    if isinstance(data, dict) and isinstance(data.get("Resources"), dict):
        return _template(file, data, parameters)
    if isinstance(data, dict) and len(data) == 1 and next(iter(data)) in _DESCRIBE_KEYS:
        ((key, body),) = data.items()
        if isinstance(body, dict):
            return [_cli(file, _DESCRIBE_KEYS[key], _substitute(body, parameters), "describe output")]
    if isinstance(data, dict):
        body = _substitute(data, parameters)
        return [_cli(file, _cli_kind(file, body), body, "CLI input")]
    raise ImportFailure(
        file, "not an App Mesh definition: expected a CloudFormation template or an App Mesh JSON object"
    )


def _substitute(value: Any, parameters: Mapping[str, str]) -> Any:
    """Shell placeholders (`${NAME}`) filled from the user's `--param NAME=value`, others left as they are."""
    if isinstance(value, str) and "${" in value:
        return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: parameters.get(m.group(1), m.group(0)), value)
    if isinstance(value, dict):
        return {k: _substitute(v, parameters) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, parameters) for v in value]
    return value


def _symbols_of(value: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(path, m) for m in re.findall(r"\$\{([^}]*)\}", value)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _symbols_of(v, f"{path}.{k}" if path else k)]
    if isinstance(value, list):
        return [s for i, v in enumerate(value) for s in _symbols_of(v, f"{path}[{i}]")]
    return []


def _cli_kind(file: str, body: dict[str, Any]) -> str:
    strange = sorted(set(body) - _ENVELOPE)
    if "spec" not in body and strange:
        raise ImportFailure(
            file, "not an App Mesh definition: no spec, and fields App Mesh does not have", field=", ".join(strange)
        )
    for kind in ("GatewayRoute", "Route", "VirtualNode", "VirtualService", "VirtualGateway", "VirtualRouter"):
        if NAME_FIELD[kind] in body:
            return kind
    spec = body.get("spec", {})
    if not isinstance(spec, dict):
        raise ImportFailure(file, "spec must be an object", field="spec")
    if "provider" in spec:
        return "VirtualService"
    for route in ("httpRoute", "http2Route", "grpcRoute", "tcpRoute"):
        action = spec.get(route, {}).get("action", {}) if isinstance(spec.get(route), dict) else {}
        if isinstance(action, dict) and "target" in action:
            return "GatewayRoute"
        if route in spec:
            return "Route"
    discovery = spec.get("serviceDiscovery")
    if "egressFilter" in spec or (isinstance(discovery, dict) and set(discovery) <= {"ipPreference"} and discovery):
        return "Mesh"
    if discovery is not None or "backends" in spec:
        return "VirtualNode"
    hint = _hint(file)
    if hint is not None:
        return hint
    if not spec:
        return "Mesh"
    raise ImportFailure(
        file, "cannot tell which App Mesh resource this is; add its name field (virtualRouterName, ...)", field="spec"
    )


def _hint(file: str) -> str | None:
    """The walkthroughs name CLI inputs `*-vg.json`, `*-vr.json`, `*-vn.json`: a tie-breaker for bare listeners."""
    stem = re.split(r"[/\\]", file)[-1].rsplit(".", 1)[0].lower()
    tokens = set(re.split(r"[-_.]", stem))
    for kind, words in (
        ("VirtualGateway", {"vg", "vgw", "gateway"}),
        ("VirtualRouter", {"vr", "router"}),
        ("VirtualNode", {"vn", "node"}),
        ("VirtualService", {"vs"}),
        ("Mesh", {"mesh"}),
    ):
        if tokens & words:
            return kind
    return None


def _cli(file: str, kind: str, body: dict[str, Any], origin: str) -> Resource:
    spec = body.get("spec", {})
    if not isinstance(spec, dict):
        raise ImportFailure(file, "spec must be an object", resource=kind, field="spec")
    name = body.get(NAME_FIELD[kind])
    from_file = not isinstance(name, str) or not name
    if from_file:
        name = re.split(r"[/\\]", file)[-1].rsplit(".", 1)[0]
    parent_field = PARENT_FIELD.get(kind)
    parent = body.get(parent_field) if parent_field else None
    envelope = {k: v for k, v in body.items() if k not in ("spec", NAME_FIELD[kind], parent_field)}
    if origin == "describe output":
        envelope = {k: v for k, v in envelope.items() if k not in ("metadata", "status")}
    return Resource(
        kind=kind,
        name=str(name),
        file=file,
        spec=spec,
        parent=parent if isinstance(parent, str) else None,
        origin=origin,
        name_from_file=from_file,
        envelope=envelope,
        symbols=tuple(_symbols_of(body)),
    )


def _template(file: str, data: dict[str, Any], parameters: Mapping[str, str]) -> list[Resource]:
    params: dict[str, Any] = {}
    declared = data.get("Parameters") if isinstance(data.get("Parameters"), dict) else {}
    for name, decl in (declared or {}).items():
        if name in parameters:
            params[name] = parameters[name]
        elif isinstance(decl, dict) and "Default" in decl:
            params[name] = decl["Default"]
    resources = data["Resources"]
    scope = Scope(
        parameters=params,
        resources={k: v for k, v in resources.items() if isinstance(v, dict)},
        mappings=_mapping(data.get("Mappings")),
        conditions=_mapping(data.get("Conditions")),
    )
    found: list[Resource] = []
    for logical, res in resources.items():
        if not isinstance(res, dict) or not str(res.get("Type", "")).startswith("AWS::AppMesh::"):
            continue
        kind = str(res["Type"]).removeprefix("AWS::AppMesh::")
        if kind not in KINDS:
            raise ImportFailure(file, f"unknown App Mesh resource type {res['Type']}", resource=logical, field="Type")
        if isinstance(res.get("Condition"), str) and condition(res["Condition"], scope) is False:
            continue
        props = res.get("Properties")
        if not isinstance(props, dict):
            raise ImportFailure(file, "Properties must be an object", resource=f"{kind} {logical}", field="Properties")
        local = Scope(scope.parameters, scope.resources, scope.mappings, scope.conditions)
        body = camel_tree(resolve(props, local, f"Resources.{logical}.Properties"))
        if not isinstance(body, dict):  # also a Properties that resolved to AWS::NoValue
            raise ImportFailure(file, "Properties must be an object", resource=f"{kind} {logical}", field="Properties")
        res_out = _cli(file, kind, body, f"Resources.{logical}")
        if res_out.name_from_file:
            raise ImportFailure(
                file, f"{NAME_FIELD[kind][0].upper()}{NAME_FIELD[kind][1:]} is required", resource=f"{kind} {logical}"
            )
        found.append(replace(res_out, symbols=tuple(sorted(local.symbols.items()))))
    return found


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
