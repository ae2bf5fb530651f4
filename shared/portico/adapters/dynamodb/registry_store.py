"""The service registry in DynamoDB: one item per instance (service, instanceId), expiring through TTL."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from portico.adapters.aws import client as aws_client
from portico.core.mesh.registry import Instance
from portico.core.untrusted import load_json


class DynamoDbRegistryStore:
    """Items carry the heartbeat time and `expiresAt` (heartbeat + ttl) for DynamoDB's TTL sweeper.

    Freshness is judged by readers from `heartbeat` (see core.mesh.registry.live): TTL deletion lags by hours.
    """

    def __init__(self, table_name: str, client: Any = None) -> None:
        self._table = table_name
        self._client = client if client is not None else aws_client("dynamodb", timeout=2.0, retries=2)

    def register(self, instance: Instance, ttl: float) -> None:
        self._client.put_item(TableName=self._table, Item=_to_item(instance, ttl))

    def heartbeat(self, instance: Instance, ttl: float) -> None:
        # A put, not an update: if TTL deleted the item during a long pause, the heartbeat re-creates it whole.
        self._client.put_item(TableName=self._table, Item=_to_item(instance, ttl))

    def deregister(self, service: str, instance_id: str) -> None:
        self._client.delete_item(
            TableName=self._table, Key={"service": {"S": service}, "instanceId": {"S": instance_id}}
        )

    def instances(self, service: str) -> list[Instance]:
        out: list[Instance] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#s = :s",
            "ExpressionAttributeNames": {"#s": "service"},
            "ExpressionAttributeValues": {":s": {"S": service}},
            "ConsistentRead": True,
        }
        while True:
            page = self._client.query(**kwargs)
            out.extend(_from_item(i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def all_instances(self) -> list[Instance]:
        out: list[Instance] = []
        kwargs: dict[str, Any] = {"TableName": self._table}
        while True:
            page = self._client.scan(**kwargs)
            out.extend(_from_item(i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return sorted(out, key=lambda i: (i.service, i.instance_id))
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _to_item(i: Instance, ttl: float) -> dict[str, Any]:
    return {
        "service": {"S": i.service},
        "instanceId": {"S": i.instance_id},
        "address": {"S": i.address},
        "port": {"N": str(i.port)},
        "labels": {"S": json.dumps(dict(i.labels), sort_keys=True)},
        "weight": {"N": str(i.weight)},
        "health": {"S": i.health},
        "heartbeat": {"N": str(Decimal(str(round(i.heartbeat, 3))))},
        "zone": {"S": i.zone},
        "expiresAt": {"N": str(int(i.heartbeat + ttl))},
    }


def _from_item(item: dict[str, Any]) -> Instance:
    health = item.get("health", {}).get("S", "UNHEALTHY")
    return Instance(
        service=item["service"]["S"],
        instance_id=item["instanceId"]["S"],
        address=item.get("address", {}).get("S", ""),
        port=int(item.get("port", {}).get("N", "0")),
        labels=load_json(item.get("labels", {}).get("S", "{}"), what="the instance's labels", max_bytes=65536),
        weight=int(item.get("weight", {}).get("N", "1")),
        health=health if health in ("HEALTHY", "UNHEALTHY", "DRAINING") else "UNHEALTHY",
        heartbeat=float(item.get("heartbeat", {}).get("N", "0")),
        zone=item.get("zone", {}).get("S", ""),
    )
