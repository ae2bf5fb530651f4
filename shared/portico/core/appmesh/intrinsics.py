"""CloudFormation intrinsic functions resolved where the template (or the user's parameters) says enough.

What cannot be known before deployment (an export of another stack, the region, a condition on a parameter
with no value) stays symbolic in `${...}` form, the way `Fn::Sub` writes it, and is listed in the report.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_SUB_VAR = re.compile(r"\$\{(!?)([^}]*)\}")
_UNKNOWN = object()
NO_VALUE = object()  # `Ref AWS::NoValue`: the property is removed, as CloudFormation does


@dataclass
class Scope:
    """What a template knows: parameter values, resource properties, mappings and conditions."""

    parameters: Mapping[str, Any] = field(default_factory=dict)
    resources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # logical id -> resource
    mappings: Mapping[str, Any] = field(default_factory=dict)
    conditions: Mapping[str, Any] = field(default_factory=dict)
    symbols: dict[str, str] = field(default_factory=dict)  # path -> the expression kept symbolic

    def keep(self, path: str, expression: str) -> str:
        self.symbols.setdefault(path, expression)
        return "${" + expression + "}"


def resolve(value: Any, scope: Scope, path: str = "", depth: int = 0) -> Any:
    """The value with every intrinsic function replaced by its result, or by a `${...}` symbol."""
    if depth > 64:
        return scope.keep(path, "too deeply nested")
    if isinstance(value, list):
        items = [resolve(v, scope, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
        return [v for v in items if v is not NO_VALUE]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((name, arg),) = value.items()
        fn = _FUNCTIONS.get(name)
        if fn is not None:
            return fn(arg, scope, path, depth + 1)
    out = {k: resolve(v, scope, f"{path}.{k}" if path else str(k), depth + 1) for k, v in value.items()}
    return {k: v for k, v in out.items() if v is not NO_VALUE}


def _ref(arg: Any, scope: Scope, path: str, depth: int) -> Any:
    name = resolve(arg, scope, path, depth)
    if not isinstance(name, str):
        return scope.keep(path, f"Ref {name!r}")
    if name == "AWS::NoValue":
        return NO_VALUE
    if name in scope.parameters:
        return scope.parameters[name]
    return scope.keep(path, name)  # pseudo parameters, parameters without a value, resource ARNs


def _get_att(arg: Any, scope: Scope, path: str, depth: int) -> Any:
    parts = resolve(arg, scope, path, depth)
    if isinstance(parts, str):
        parts = parts.split(".", 1)
    if not (isinstance(parts, list) and len(parts) == 2 and all(isinstance(p, str) for p in parts)):
        return scope.keep(path, f"GetAtt {parts!r}")
    logical, attribute = parts
    found = _attribute(scope, logical, attribute, depth)
    return scope.keep(path, f"{logical}.{attribute}") if found is _UNKNOWN else found


def _attribute(scope: Scope, logical: str, attribute: str, depth: int) -> Any:
    """A name-like attribute read back from the resource's own properties (`Mesh.MeshName`, `Ns.Name`)."""
    resource = scope.resources.get(logical)
    if resource is None:
        return _UNKNOWN
    props = resource.get("Properties")
    if not isinstance(props, dict) or attribute not in props:
        return _UNKNOWN
    value = resolve(props[attribute], scope, f"Resources.{logical}.Properties.{attribute}", depth + 1)
    return value if isinstance(value, str) else _UNKNOWN  # a symbolic name stays the same symbol everywhere


def _sub(arg: Any, scope: Scope, path: str, depth: int) -> Any:
    if isinstance(arg, list) and not arg:
        return scope.keep(path, "Fn::Sub with an unexpected shape")
    template, variables = (arg, {}) if not isinstance(arg, list) else (arg[0], arg[1] if len(arg) > 1 else {})
    if not isinstance(template, str) or not isinstance(variables, dict):
        return scope.keep(path, "Fn::Sub with an unexpected shape")
    local = {k: resolve(v, scope, f"{path}.{k}", depth) for k, v in variables.items()}

    def one(match: re.Match[str]) -> str:
        bang, name = match.groups()
        if bang:
            return "${" + name + "}"  # `${!Literal}` is written as `${Literal}`
        if name in local and not isinstance(local[name], (dict, list)):
            return str(local[name])
        if "." in name:
            logical, attribute = name.split(".", 1)
            found = _attribute(scope, logical, attribute, depth)
            if found is not _UNKNOWN:
                return str(found)
        elif name in scope.parameters and not isinstance(scope.parameters[name], (dict, list)):
            return str(scope.parameters[name])
        return scope.keep(path, name)

    return _SUB_VAR.sub(one, template)


def _import_value(arg: Any, scope: Scope, path: str, depth: int) -> Any:
    name = resolve(arg, scope, path, depth)
    return scope.keep(path, f"ImportValue {name}")


def _join(arg: Any, scope: Scope, path: str, depth: int) -> Any:
    resolved = resolve(arg, scope, path, depth)
    if isinstance(resolved, list) and len(resolved) == 2 and isinstance(resolved[1], list):
        return str(resolved[0]).join(str(v) for v in resolved[1])
    return scope.keep(path, "Fn::Join")


def _select(arg: Any, scope: Scope, path: str, depth: int) -> Any:
    resolved = resolve(arg, scope, path, depth)
    if isinstance(resolved, list) and len(resolved) == 2 and isinstance(resolved[1], list):
        try:
            return resolved[1][int(resolved[0])]
        except (ValueError, IndexError, TypeError):
            pass
    return scope.keep(path, "Fn::Select")


def _split(arg: Any, scope: Scope, path: str, depth: int) -> Any:
    resolved = resolve(arg, scope, path, depth)
    if isinstance(resolved, list) and len(resolved) == 2 and all(isinstance(v, str) for v in resolved):
        return resolved[1].split(resolved[0]) if resolved[0] else [resolved[1]]
    return scope.keep(path, "Fn::Split")


def _find_in_map(arg: Any, scope: Scope, path: str, depth: int) -> Any:
    resolved = resolve(arg, scope, path, depth)
    if isinstance(resolved, list) and len(resolved) == 3:
        node: Any = scope.mappings
        for key in resolved:
            node = node.get(key) if isinstance(node, dict) and isinstance(key, str) else None
        if node is not None:
            return node
    return scope.keep(path, "Fn::FindInMap")


def condition(name: str, scope: Scope, depth: int = 0) -> bool | None:
    """A named condition's value, or None when it depends on something unknown."""
    expr = scope.conditions.get(name)
    return None if expr is None or depth > 32 else _truth(expr, scope, depth + 1)


def _truth(expr: Any, scope: Scope, depth: int) -> bool | None:
    if isinstance(expr, bool):
        return expr
    if not isinstance(expr, dict) or len(expr) != 1:
        return None
    ((name, arg),) = expr.items()
    if name == "Condition" and isinstance(arg, str):
        return condition(arg, scope, depth)
    if not isinstance(arg, list):
        return None
    if name == "Fn::Equals" and len(arg) == 2:
        probe = Scope(scope.parameters, scope.resources, scope.mappings, scope.conditions)
        a, b = (resolve(v, probe, "", depth) for v in arg)
        return None if probe.symbols else a == b
    values = [_truth(v, scope, depth) for v in arg]
    if None in values:
        return None
    if name == "Fn::Not" and len(values) == 1:
        return not values[0]
    if name == "Fn::And":
        return all(values)
    if name == "Fn::Or":
        return any(values)
    return None


def _if(arg: Any, scope: Scope, path: str, depth: int) -> Any:
    if not (isinstance(arg, list) and len(arg) == 3 and isinstance(arg[0], str)):
        return scope.keep(path, "Fn::If with an unexpected shape")
    truth = condition(arg[0], scope)
    if truth is None:
        scope.keep(path, f"Fn::If {arg[0]} (unknown; the true branch was used)")
        truth = True
    return resolve(arg[1] if truth else arg[2], scope, path, depth)


def _symbolic(name: str) -> Any:
    def keep(arg: Any, scope: Scope, path: str, depth: int) -> Any:
        return scope.keep(path, name)

    return keep


_FUNCTIONS = {
    "Ref": _ref,
    "Fn::GetAtt": _get_att,
    "Fn::Sub": _sub,
    "Fn::ImportValue": _import_value,
    "Fn::Join": _join,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::FindInMap": _find_in_map,
    "Fn::If": _if,
    "Fn::GetAZs": _symbolic("Fn::GetAZs"),
    "Fn::Base64": _symbolic("Fn::Base64"),
    "Fn::Cidr": _symbolic("Fn::Cidr"),
    "Fn::Transform": _symbolic("Fn::Transform"),
}
