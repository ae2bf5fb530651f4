"""Tables created from template.yaml match its key schemas and TTL settings, and creation is idempotent."""

from __future__ import annotations

import uuid
from typing import Any

from localdev.tables import ROLES, create_tables, load_template


def _template_props() -> dict[str, dict[str, Any]]:
    resources = load_template()["Resources"]
    return {role: resources[logical_id]["Properties"] for logical_id, role in ROLES.items()}


def test_tables_follow_the_template(dynamodb: Any, tables: dict[str, str]) -> None:
    for role, props in _template_props().items():
        table = dynamodb.describe_table(TableName=tables[role])["Table"]
        assert table["KeySchema"] == props["KeySchema"], role
        assert sorted(table["AttributeDefinitions"], key=str) == sorted(props["AttributeDefinitions"], key=str)
        assert table["BillingModeSummary"]["BillingMode"] == props["BillingMode"]
        ttl = dynamodb.describe_time_to_live(TableName=tables[role])["TimeToLiveDescription"]
        if "TimeToLiveSpecification" in props:
            assert ttl["TimeToLiveStatus"] == "ENABLED", role
            assert ttl["AttributeName"] == props["TimeToLiveSpecification"]["AttributeName"]
        else:
            assert ttl["TimeToLiveStatus"] == "DISABLED", role


def test_creating_again_changes_nothing(dynamodb: Any, tables: dict[str, str]) -> None:
    dynamodb.put_item(TableName=tables["config"], Item={"kind": {"S": "Route"}, "name": {"S": "keep-me"}})
    assert create_tables(dynamodb, tables) == []
    item = dynamodb.get_item(TableName=tables["config"], Key={"kind": {"S": "Route"}, "name": {"S": "keep-me"}})
    assert "Item" in item


def test_existing_table_is_left_alone(dynamodb: Any) -> None:
    suffix = uuid.uuid4().hex[:12]
    names = {role: f"portico-{role}-{suffix}" for role in ("config", "quota", "registry")}
    foreign_schema = [{"AttributeName": "id", "KeyType": "HASH"}]
    dynamodb.create_table(
        TableName=names["config"],
        KeySchema=foreign_schema,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        created = create_tables(dynamodb, names)
        assert sorted(created) == sorted([names["quota"], names["registry"]])
        assert dynamodb.describe_table(TableName=names["config"])["Table"]["KeySchema"] == foreign_schema
    finally:
        for name in names.values():
            dynamodb.delete_table(TableName=name)
