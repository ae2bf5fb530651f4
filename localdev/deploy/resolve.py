"""Evaluates CloudFormation intrinsics (Ref, GetAtt, Sub, Join, If, Select, conditions) for a deployed stack.

The local deploy needs this for the resources the local endpoint's CloudFormation skips: it creates them by
API from their resolved properties, as CloudFormation would have.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

NO_VALUE = object()  # AWS::NoValue: the property or list item disappears
_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


class ResolveError(ValueError):
    """An intrinsic could not be evaluated; the message names it."""


class Resolver:
    """Resolves values of one template from parameters, pseudo parameters, physical ids and attributes."""

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, str],
        pseudo: Mapping[str, str],
        refs: dict[str, str],
        attribute: Callable[[str, str], str],
    ) -> None:
        self._template = template
        declared = template.get("Parameters", {})
        defaults = {k: str(v.get("Default", "")) for k, v in declared.items()}
        names: dict[str, Any] = {**defaults, **parameters, **pseudo}
        for name, spec in declared.items():  # list-typed parameters are lists, as CloudFormation passes them
            kind = str(spec.get("Type", ""))
            if (kind == "CommaDelimitedList" or kind.startswith("List<")) and isinstance(names.get(name), str):
                names[name] = [item.strip() for item in names[name].split(",")]
        self._names = names
        self.refs = refs  # logical id -> physical id; the gap filler adds the ones it creates
        self._attribute = attribute
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            definition = self._template.get("Conditions", {}).get(name)
            if definition is None:
                raise ResolveError(f"unknown condition {name}")
            self._conditions[name] = bool(self._truth(definition))
        return self._conditions[name]

    def _truth(self, value: Any) -> bool:
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Equals":
                left, right = (self.resolve(v) for v in arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self._truth(arg[0])
            if key == "Fn::And":
                return all(self._truth(v) for v in arg)
            if key == "Fn::Or":
                return any(self._truth(v) for v in arg)
        raise ResolveError(f"not a condition: {value!r}")

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self._names:
            return self._names[name]
        if name in self.refs:
            return self.refs[name]
        raise ResolveError(f"Ref {name}: no parameter or deployed resource of that name")

    def _sub(self, arg: Any) -> str:
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        values = {k: self.resolve(v) for k, v in extra.items()}

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return str(values[name])
            if "." in name and not name.startswith("AWS::"):
                logical, attr = name.split(".", 1)
                return self._attribute(logical, attr)
            return str(self.ref(name))

        return _SUB_VAR.sub(one, text).replace("${!", "${")

    def resolve(self, value: Any) -> Any:
        """`value` with every intrinsic evaluated; AWS::NoValue entries are dropped from maps and lists."""
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                logical, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                return self._attribute(logical, attr)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Join":
                return str(arg[0]).join(str(v) for v in self.resolve(arg[1]))
            if key == "Fn::Split":
                return str(self.resolve(arg[1])).split(str(arg[0]))
            if key == "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
            if key == "Fn::If":
                name, when_true, when_false = arg
                return self.resolve(when_true if self.condition(name) else when_false)
            if key.startswith("Fn::"):
                raise ResolveError(f"{key} is not supported by the local deploy")
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}
