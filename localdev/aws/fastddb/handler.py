"""DynamoDB UpdateItem and GetItem answered straight from moto's tables, without moto's per-request machinery.

Profiled, one UpdateItem through moto's server costs ~2.5 ms of CPU: host/target dispatch across every service
(~0.3 ms), Flask, request setup and botocore-model parsing and serialising (~0.6 ms), and parsing the update and
condition expressions twice per call into ASTs that are deep-copied and validated (~1 ms). This module parses an
expression once (cached by its text) and reads and writes moto's own Table/Item objects, so moto stays the one
store: every other operation, CloudFormation-created tables, `portico get`, all see the same items.

It answers only requests it understands completely (see `expressions`); `Unsupported` sends the request to moto
as it was, so moto stays the reference for validation messages and every less common shape. The caller holds the
endpoint's lock, as for moto's own handling, so reads and writes here are atomic with respect to all others.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from localdev.aws.fastddb import expressions
from localdev.aws.fastddb.expressions import Scope, Unsupported, Wire

Response = tuple[int, list[tuple[str, str]], bytes]
_CONTENT_TYPE = "application/x-amz-json-1.0"
_CONDITION_FAILED = "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"
_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([a-z0-9-]+)/dynamodb/aws4_request")
_UPDATE_KEYS = frozenset(
    {"TableName", "Key", "UpdateExpression", "ConditionExpression", "ExpressionAttributeNames"}
    | {"ExpressionAttributeValues", "ReturnValues"}
)
_GET_KEYS = frozenset({"TableName", "Key", "ConsistentRead"})
_RETURN_VALUES = frozenset({"NONE", "ALL_NEW", "UPDATED_NEW", "ALL_OLD", "UPDATED_OLD"})

BackendFor = Callable[[str, str], Any]  # (account id, region) -> moto's DynamoDBBackend


def moto_backend(account: str, region: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[account][region]


def moto_account(access_key: str) -> str:
    from moto.iam.models import get_account_id_from

    return str(get_account_id_from(access_key))


class FastDynamoDb:
    """`answer(operation, headers, body)` -> a response, or None when moto should answer instead."""

    def __init__(self, backend_for: BackendFor = moto_backend, account_of: Callable[[str], str] = moto_account):
        self._backend_for = backend_for
        self._account_of = account_of
        self.answered = 0  # requests answered here (the benchmark reports the share)

    def answer(self, operation: str, headers: Mapping[str, str], body: bytes) -> Response | None:
        if operation not in ("UpdateItem", "GetItem"):
            return None
        scope = _SCOPE.search(headers.get("authorization", ""))
        if scope is None or headers.get("content-encoding"):
            return None
        try:
            request = json.loads(body)
            if not isinstance(request, dict):
                return None
            backend = self._backend_for(self._account_of(scope.group(1)), scope.group(2))
            table = backend.tables.get(request.get("TableName"))
            if table is None or _streaming(table):
                return None  # moto words ResourceNotFound; stream records are moto's to write
            result = _get_item(table, request) if operation == "GetItem" else _update_item(table, request)
        except Unsupported:
            return None
        self.answered += 1
        if isinstance(result, int):
            return _error(result)
        return _ok(result)


def _streaming(table: Any) -> bool:
    spec = getattr(table, "stream_specification", None) or {}
    return bool(spec.get("StreamEnabled"))


def _key(table: Any, request: Mapping[str, Any]) -> tuple[Any, Any]:
    """moto's (hash, range) DynamoTypes for the request's Key, which must name exactly the key attributes."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    key = request.get("Key")
    wanted = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    if not isinstance(key, dict) or sorted(key) != sorted(wanted):
        raise Unsupported("key shape")
    types = {d["AttributeName"]: d["AttributeType"] for d in table.attr}
    for name in wanted:
        value = key[name]
        if not isinstance(value, dict) or list(value) != [types.get(name)] or value[types[name]] in ("", None):
            raise Unsupported("key type")
        if types[name] not in ("S", "N") or not isinstance(value[types[name]], str):
            raise Unsupported("key type")
    hash_key = DynamoType(key[table.hash_key_attr])
    range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    return hash_key, range_key


def _stored(table: Any, hash_key: Any, range_key: Any) -> Any:
    if range_key is not None:
        return table.items.get(hash_key, {}).get(range_key)
    return table.items.get(hash_key)


def _wire(item: Any) -> dict[str, Wire]:
    return dict(item.to_json()["Attributes"]) if item is not None else {}


def _get_item(table: Any, request: Mapping[str, Any]) -> dict[str, Any]:
    if not set(request) <= _GET_KEYS or not isinstance(request.get("ConsistentRead", False), bool):
        raise Unsupported("GetItem options")
    item = _stored(table, *_key(table, request))
    return {"Item": _wire(item)} if item is not None else {}


def _update_item(table: Any, request: Mapping[str, Any]) -> dict[str, Any] | int:
    if not set(request) <= _UPDATE_KEYS or not isinstance(request.get("UpdateExpression"), str):
        raise Unsupported("UpdateItem options")
    returns = request.get("ReturnValues", "NONE")
    if returns not in _RETURN_VALUES:
        raise Unsupported("ReturnValues")
    names = request.get("ExpressionAttributeNames", {})
    values = request.get("ExpressionAttributeValues", {})
    if not isinstance(names, dict) or not isinstance(values, dict):
        raise Unsupported("placeholders")
    if not all(isinstance(v, str) and v for v in names.values()):
        raise Unsupported("names")
    if not all(isinstance(v, dict) and len(v) == 1 for v in values.values()):
        raise Unsupported("values")
    update = expressions.update(request["UpdateExpression"])
    text = request.get("ConditionExpression")
    condition = expressions.condition(text) if isinstance(text, str) else None
    if text is not None and condition is None:
        raise Unsupported("condition")
    used_names = update.used.names | (condition.used.names if condition else frozenset())
    used_values = update.used.values | (condition.used.values if condition else frozenset())
    if used_names != set(names) or used_values != set(values):
        raise Unsupported("unused or undefined placeholders")  # a ValidationException that moto words
    targets = update.targets(names)
    if set(targets) & set(table.attribute_keys):
        raise Unsupported("update of a key attribute")

    hash_key, range_key = _key(table, request)
    item = _stored(table, hash_key, range_key)
    before = _wire(item)
    scope = Scope(names, values, before.get)
    if condition is not None and not condition.holds(scope):
        return 400
    changes = update.changes(scope)
    if len(json.dumps(changes)) > 65536:
        raise Unsupported("large values")  # moto checks the 400 KB item limit and words the error
    if item is None:
        data = {table.hash_key_attr: request["Key"][table.hash_key_attr]}
        if table.range_key_attr:
            data[table.range_key_attr] = request["Key"][table.range_key_attr]
        table.put_item(data)
        item = _stored(table, hash_key, range_key)
    _write(item, changes)
    return {"Attributes": picked} if (picked := _returned(returns, before, _wire(item), changes)) else {}


def _write(item: Any, changes: Mapping[str, Wire | None]) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    for name, value in changes.items():
        if value is None:
            item.attrs.pop(name, None)
        else:
            item.attrs[name] = DynamoType(value)


def _returned(mode: str, before: Mapping[str, Wire], after: Mapping[str, Wire], changes: Mapping[str, Any]) -> Any:
    if mode == "ALL_NEW":
        return dict(after)
    if mode == "ALL_OLD":
        return dict(before)
    if mode == "UPDATED_NEW":
        return {k: after[k] for k in changes if k in after}
    if mode == "UPDATED_OLD":
        return {k: before[k] for k in changes if k in before}
    return {}


def _ok(payload: Mapping[str, Any]) -> Response:
    body = json.dumps(payload).encode()
    return 200, _headers(body), body


def _error(status: int) -> Response:
    body = json.dumps({"__type": _CONDITION_FAILED, "message": "The conditional request failed"}).encode()
    return status, _headers(body), body


def _headers(body: bytes) -> list[tuple[str, str]]:
    return [
        ("Content-Type", _CONTENT_TYPE),
        ("Content-Length", str(len(body))),
        ("x-amzn-RequestId", uuid.uuid4().hex),
        ("x-portico-local-fast-path", "1"),  # lets tests and benchmarks tell which path answered
    ]
