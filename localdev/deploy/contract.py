"""The table keys the code reads and writes, checked against template.yaml and against the deployed tables.

template.yaml is the single definition of the tables; this is the other side of that contract, written down
once so that a typo in the template (or a drifted adapter) fails with a message naming the table and key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# logical id -> ((attribute, key type), ...) as the stores and the edge address items.
KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    "ConfigTable": (("kind", "HASH"), ("name", "RANGE")),
    "QuotaTable": (("pk", "HASH"),),
    "RegistryTable": (("service", "HASH"), ("instanceId", "RANGE")),
}
# logical id -> the attribute whose epoch-seconds value expires an item.
TTL: dict[str, str] = {"QuotaTable": "expiresAt", "RegistryTable": "expiresAt"}


def _keys(key_schema: list[Mapping[str, Any]]) -> tuple[tuple[str, str], ...]:
    return tuple((str(k["AttributeName"]), str(k["KeyType"])) for k in key_schema)


def _show(keys: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{name} ({kind})" for name, kind in keys) or "nothing"


def template_errors(template: Mapping[str, Any]) -> list[str]:
    """Every way the template's tables differ from what the code uses; empty when they agree."""
    errors: list[str] = []
    resources = template.get("Resources", {})
    for logical, expected in KEYS.items():
        props = resources.get(logical, {}).get("Properties")
        if props is None:
            errors.append(f"{logical}: missing from the template; the code needs keys {_show(expected)}")
            continue
        actual = _keys(props.get("KeySchema", []))
        if actual != expected:
            errors.append(f"{logical}: key schema is {_show(actual)}, the code uses {_show(expected)}")
        defined = {d["AttributeName"] for d in props.get("AttributeDefinitions", [])}
        for name, _ in expected:
            if name not in defined:
                errors.append(f"{logical}: key attribute {name!r} has no AttributeDefinitions entry")
        ttl = props.get("TimeToLiveSpecification", {})
        if logical in TTL and (ttl.get("AttributeName") != TTL[logical] or not ttl.get("Enabled")):
            errors.append(f"{logical}: TTL must be enabled on {TTL[logical]!r}, template has {ttl or 'none'}")
    return errors


def deployed_errors(logical: str, table: Mapping[str, Any], ttl: Mapping[str, Any]) -> list[str]:
    """How a deployed table (describe_table's Table, describe_time_to_live's description) differs."""
    errors: list[str] = []
    name = f"{logical} ({table.get('TableName')})"
    expected = KEYS.get(logical)
    if expected is not None and _keys(table.get("KeySchema", [])) != expected:
        actual = _keys(table.get("KeySchema", []))
        errors.append(f"{name}: key schema is {_show(actual)}, the code uses {_show(expected)}")
    enabled = ttl.get("TimeToLiveStatus") == "ENABLED" and ttl.get("AttributeName") == TTL.get(logical)
    if logical in TTL and not enabled:
        errors.append(f"{name}: TTL is {dict(ttl)}, expected enabled on {TTL[logical]!r}")
    return errors
