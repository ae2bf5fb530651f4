"""DynamoDbRegistryStore against the local AWS endpoint, on tables created from template.yaml."""

from __future__ import annotations

import dataclasses
from typing import Any

from portico.adapters.dynamodb.registry_store import DynamoDbRegistryStore
from portico.core.mesh.registry import Instance, live


def _inst(iid: str, heartbeat: float, **kw: Any) -> Instance:
    return Instance("payments", iid, "10.0.0.7", 15443, {"version": "v1"}, 2, "HEALTHY", heartbeat, "eu-west-1a", **kw)


def test_register_heartbeat_deregister_round_trip(tables: dict[str, str], dynamodb: Any) -> None:
    store = DynamoDbRegistryStore(tables["registry"])
    store.register(_inst("a", 1000.0), ttl=60)
    store.register(_inst("b", 1000.0), ttl=60)
    store.register(dataclasses.replace(_inst("x", 1000.0), service="orders"), ttl=60)

    got = store.instances("payments")
    assert [i.instance_id for i in got] == ["a", "b"]
    assert got[0] == _inst("a", 1000.0)  # every field survives the trip, labels included

    item = dynamodb.get_item(TableName=tables["registry"], Key={"service": {"S": "payments"}, "instanceId": {"S": "a"}})
    assert item["Item"]["expiresAt"]["N"] == "1060"  # DynamoDB TTL attribute from template.yaml, epoch seconds

    store.heartbeat(dataclasses.replace(_inst("a", 1030.0), health="UNHEALTHY"), ttl=60)
    assert {i.instance_id: i.health for i in store.instances("payments")} == {"a": "UNHEALTHY", "b": "HEALTHY"}

    store.deregister("payments", "b")
    assert [i.instance_id for i in store.instances("payments")] == ["a"]
    assert {i.service for i in store.all_instances()} == {"payments", "orders"}


def test_readers_ignore_stale_heartbeats_before_ttl_deletes_them(tables: dict[str, str]) -> None:
    store = DynamoDbRegistryStore(tables["registry"])
    store.register(_inst("fresh", 1000.0), ttl=3600)
    store.register(_inst("stale", 900.0), ttl=3600)  # still stored: TTL is an hour away
    stored = store.instances("payments")
    assert len(stored) == 2
    assert [i.instance_id for i in live(stored, now=1005.0, stale_after=15.0)] == ["fresh"]


def test_heartbeat_recreates_an_item_that_ttl_removed(tables: dict[str, str]) -> None:
    store = DynamoDbRegistryStore(tables["registry"])
    store.register(_inst("a", 1000.0), ttl=60)
    store.deregister("payments", "a")  # as if TTL had deleted it during a long pause
    store.heartbeat(_inst("a", 1100.0), ttl=60)
    assert [i.heartbeat for i in store.instances("payments")] == [1100.0]
