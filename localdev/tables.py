"""Creates Portico's DynamoDB tables from template.yaml's own resources (the single source of key schemas)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "template.yaml"

# Logical id in template.yaml -> the role used by portico.adapters.aws.table_names().
ROLES = {"ConfigTable": "config", "QuotaTable": "quota", "RegistryTable": "registry"}

# CloudFormation table properties that CreateTable accepts with the same shape; everything else (TableName,
# SSE, PITR, tags, deletion policies) is either chosen by the caller or has no meaning on a local endpoint.
_SAME_SHAPE = (
    "AttributeDefinitions",
    "KeySchema",
    "BillingMode",
    "ProvisionedThroughput",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "TableClass",
)


class TemplateError(ValueError):
    """template.yaml lacks a table or gives one a value local bootstrap cannot use."""


@dataclass(frozen=True)
class TableDefinition:
    """One table as template.yaml defines it: CreateTable arguments (no TableName) and the TTL attribute."""

    logical_id: str
    role: str
    create_args: Mapping[str, Any]
    ttl_attribute: str | None


class _CfnLoader(yaml.SafeLoader):
    """A safe loader reading CloudFormation short tags (!Ref, !Sub, !GetAtt...) as their long-form dicts."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)  # !GetAtt A.B is the long form ["A", "B"]
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(template_path: Path | str = TEMPLATE_PATH) -> dict[str, Any]:
    """template.yaml as plain data, with short-form intrinsic functions turned into their long form."""
    with open(template_path, encoding="utf-8") as f:
        data = yaml.load(f, Loader=_CfnLoader)  # a SafeLoader subclass: no arbitrary objects
    if not isinstance(data, dict):
        raise TemplateError(f"{template_path}: not a CloudFormation template")
    return data


def table_definitions(template_path: Path | str = TEMPLATE_PATH) -> dict[str, TableDefinition]:
    """The Config, Quota and Registry tables of template.yaml, keyed by role (config, quota, registry)."""
    resources = load_template(template_path).get("Resources") or {}
    definitions = {}
    for logical_id, role in ROLES.items():
        resource = resources.get(logical_id)
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::DynamoDB::Table":
            raise TemplateError(f"{template_path}: no AWS::DynamoDB::Table resource named {logical_id}")
        definitions[role] = _definition(logical_id, role, resource.get("Properties") or {})
    return definitions


def create_tables(client: Any, names: Mapping[str, str], template_path: Path | str = TEMPLATE_PATH) -> list[str]:
    """Create each table (role -> name in `names`) that does not exist yet; return the names created.

    Existing tables are left exactly as they are, so running it again (or against a shared endpoint) is safe.
    """
    created = []
    for role, definition in table_definitions(template_path).items():
        name = names[role]
        try:
            client.create_table(TableName=name, **definition.create_args)
        except client.exceptions.ResourceInUseException:
            continue
        waiter = client.get_waiter("table_exists")
        waiter.wait(TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
        if definition.ttl_attribute is not None:
            client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": definition.ttl_attribute, "Enabled": True},
            )
        created.append(name)
    return created


def _definition(logical_id: str, role: str, props: Mapping[str, Any]) -> TableDefinition:
    args = {key: props[key] for key in _SAME_SHAPE if key in props}
    stream = props.get("StreamSpecification")
    if stream:
        args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    for key in ("AttributeDefinitions", "KeySchema"):
        if key not in args:
            raise TemplateError(f"{logical_id}: {key} is required")
    _reject_intrinsics(logical_id, args)
    ttl = props.get("TimeToLiveSpecification") or {}
    _reject_intrinsics(logical_id, ttl)
    enabled = ttl.get("Enabled") is True
    return TableDefinition(logical_id, role, args, ttl.get("AttributeName") if enabled else None)


def _reject_intrinsics(where: str, value: Any) -> None:
    """Local bootstrap has no parameters or conditions to resolve, so schema fields must be literal."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                raise TemplateError(f"{where}: {key} in a schema field; local bootstrap needs literal values")
            _reject_intrinsics(where, inner)
    elif isinstance(value, list):
        for inner in value:
            _reject_intrinsics(where, inner)
