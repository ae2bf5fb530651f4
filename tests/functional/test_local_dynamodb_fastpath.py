"""The embedded endpoint's DynamoDB fast path answers exactly as moto does, and hands moto what it does not know.

Each case runs against two endpoints: the session's (fast path on) and one with `--no-fast-path` (moto answers
everything). Items, returned attributes and error codes must be equal, and the `x-portico-local-fast-path` response
header says which path answered, so a case meant for the fast path cannot pass by quietly falling back to moto.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localdev.aws import client as aws_client

N = {"#n": "n"}
NE = {"#n": "n", "#e": "expiresAt"}


@pytest.fixture(scope="module")
def moto_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from localdev import aws

    handle = aws.start(0, tmp_path_factory.mktemp("moto-only") / "local-aws.log", fast_path=False)
    try:
        yield handle.url
    finally:
        aws.stop(handle)


def _table(ddb: Any, name: str, range_key: bool) -> None:
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
    if range_key:
        keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
        attrs.append({"AttributeName": "sk", "AttributeType": "N"})
    ddb.create_table(TableName=name, KeySchema=keys, AttributeDefinitions=attrs, BillingMode="PAY_PER_REQUEST")


def _call(ddb: Any, op: str, params: dict[str, Any]) -> tuple[Any, bool]:
    """(what the caller sees, answered by the fast path)."""
    try:
        out = getattr(ddb, op)(**params)
    except ClientError as exc:
        headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        return ("error", exc.response["Error"]["Code"]), headers.get("x-portico-local-fast-path") == "1"
    headers = out.pop("ResponseMetadata")["HTTPHeaders"]
    out.pop("ConsumedCapacity", None)
    if params.get("ReturnValues", "").startswith("UPDATED_"):
        # moto also returns the key of an item the update created; DynamoDB returns "only the updated attributes"
        # and the fast path does as DynamoDB does: compare without the key.
        out.get("Attributes", {}).pop("pk", None)
    return out, headers.get("x-portico-local-fast-path") == "1"


def _update(key: str, expr: str, names: dict[str, str] | None, values: dict[str, Any] | None, **extra: Any) -> Any:
    params: dict[str, Any] = {"Key": {"pk": {"S": key}}, "UpdateExpression": expr, **extra}
    if names:
        params["ExpressionAttributeNames"] = names
    if values:
        params["ExpressionAttributeValues"] = values
    return ("update_item", params)


ONE = {":one": {"N": "1"}}
# (operation, parameters, answered by the fast path?)
CASES: list[tuple[tuple[str, dict[str, Any]], bool]] = [
    (_update("a", "ADD #n :one", N, ONE), True),
    (_update("a", "ADD #n :one", N, ONE, ReturnValues="UPDATED_NEW"), True),
    (_update("a", "ADD #n :one", N, ONE, ReturnValues="ALL_OLD"), True),
    (
        _update(
            "q",
            "ADD #n :amount SET #e = if_not_exists(#e, :expires)",
            NE,
            {":amount": {"N": "3"}, ":expires": {"N": "1700000000"}, ":room": {"N": "4"}},
            ConditionExpression="attribute_not_exists(#n) OR #n <= :room",
            ReturnValues="UPDATED_NEW",
        ),
        True,
    ),
    (
        _update(
            "q",
            "ADD #n :amount SET #e = if_not_exists(#e, :expires)",
            NE,
            {":amount": {"N": "3"}, ":expires": {"N": "1800000000"}, ":room": {"N": "4"}},
            ConditionExpression="attribute_not_exists(#n) OR #n <= :room",
            ReturnValues="ALL_NEW",
        ),
        True,
    ),
    (  # the ceiling refuses: ConditionalCheckFailedException, and nothing changes
        _update(
            "q",
            "ADD #n :amount",
            N,
            {":amount": {"N": "3"}, ":room": {"N": "4"}},
            ConditionExpression="attribute_not_exists(#n) OR #n <= :room",
        ),
        True,
    ),
    (_update("a", "SET #n = #n + :one", N, ONE, ReturnValues="UPDATED_OLD"), True),
    (_update("a", "SET #n = #n - :one", N, ONE, ReturnValues="ALL_NEW"), True),
    (_update("s", "SET #n = :v", N, {":v": {"S": "hello"}}, ReturnValues="ALL_NEW"), True),
    (
        _update("s", "SET #n = :w", N, {":v": {"S": "hello"}, ":w": {"S": "x"}}, ConditionExpression="#n = :v"),
        True,
    ),
    (_update("s", "SET #n = :v", N, {":v": {"S": "z"}}, ConditionExpression="attribute_exists(#n)"), True),
    (_update("s", "REMOVE #n", N, None, ReturnValues="ALL_OLD"), True),
    (_update("a", "ADD #n :v", N, {":v": {"N": "2.5"}}, ReturnValues="UPDATED_NEW"), True),
    (
        _update(
            "b",
            "SET #n = :v",
            N,
            {":v": {"N": "5"}, ":lo": {"N": "1"}, ":hi": {"N": "9"}},
            ConditionExpression="NOT (#n BETWEEN :lo AND :hi)",
        ),
        True,
    ),
    # shapes the fast path leaves to moto: moto's answer must come through unchanged
    (_update("m", "SET n = :v", None, {":v": {"N": "1"}}), False),  # bare name (reserved-word rules are moto's)
    (_update("m", "ADD #n :one", N, {":one": {"N": "1"}, ":unused": {"N": "2"}}), False),  # unused value
    (_update("m", "SET #n = :v", N, {":v": {"L": [{"N": "1"}]}}, ReturnValues="NONE"), True),
    (_update("m", "SET #n = list_append(#n, :v)", N, {":v": {"L": [{"N": "2"}]}}), False),
    (_update("m", "ADD #n :one", N, ONE), False),  # ADD on a list: moto words the type error
    (_update("m", "SET pk = :v", None, {":v": {"S": "x"}}), False),  # the key attribute
    (("get_item", {"Key": {"pk": {"S": "q"}}}), True),
    (("get_item", {"Key": {"pk": {"S": "missing"}}, "ConsistentRead": True}), True),
    (("get_item", {"Key": {"pk": {"S": "q"}}, "ProjectionExpression": "#n", "ExpressionAttributeNames": N}), False),
    (("get_item", {"Key": {"pk": {"N": "1"}}}), False),  # wrong key type: moto's ValidationException
]


def test_fast_path_answers_as_moto_does(local_aws: str, moto_only: str) -> None:
    fast, reference = aws_client("dynamodb", local_aws), aws_client("dynamodb", moto_only)
    table = f"fastpath-{uuid.uuid4().hex[:8]}"
    for ddb in (fast, reference):
        _table(ddb, table, range_key=False)
    for index, ((op, params), expect_fast) in enumerate(CASES):
        got, by_fast = _call(fast, op, {"TableName": table, **params})
        want, by_reference = _call(reference, op, {"TableName": table, **params})
        assert not by_reference
        assert got == want, f"case {index} {op} {params}"
        assert by_fast is expect_fast, f"case {index}: fast path {'skipped' if expect_fast else 'answered'}"
    for ddb in (fast, reference):
        ddb.delete_table(TableName=table)


def test_range_key_tables_and_missing_tables(local_aws: str, moto_only: str) -> None:
    fast, reference = aws_client("dynamodb", local_aws), aws_client("dynamodb", moto_only)
    table = f"fastpath-{uuid.uuid4().hex[:8]}"
    for ddb in (fast, reference):
        _table(ddb, table, range_key=True)
    key = {"pk": {"S": "svc"}, "sk": {"N": "7"}}
    calls = [
        (
            "update_item",
            {
                "Key": key,
                "UpdateExpression": "ADD #n :one",
                "ExpressionAttributeNames": N,
                "ExpressionAttributeValues": ONE,
                "ReturnValues": "ALL_NEW",
            },
            True,
        ),
        ("get_item", {"Key": key}, True),
        ("get_item", {"Key": {"pk": {"S": "svc"}}}, False),  # half a key
    ]
    for op, params, expect_fast in calls:
        got, by_fast = _call(fast, op, {"TableName": table, **params})
        assert (got, by_fast) == (_call(reference, op, {"TableName": table, **params})[0], expect_fast)
    missing = {"TableName": "no-such-table", "Key": {"pk": {"S": "x"}}}
    assert _call(fast, "get_item", missing) == (("error", "ResourceNotFoundException"), False)


def test_pipelined_answers_keep_request_order(local_aws: str) -> None:
    """A fast-path call pipelined behind one moto answers on a worker thread is answered after it, never before:
    the fast path answers inside the parser's callback only when nothing is ahead of it on the connection."""
    import json
    import socket
    from urllib.parse import urlsplit

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    ddb = aws_client("dynamodb", local_aws)
    table = f"pipelined-{uuid.uuid4().hex[:8]}"
    _table(ddb, table, range_key=False)
    url = urlsplit(local_aws)

    def raw(operation: str, params: dict[str, Any]) -> bytes:
        request = AWSRequest(
            method="POST",
            url=f"{local_aws}/",
            data=json.dumps(params).encode(),
            headers={"X-Amz-Target": f"DynamoDB_20120810.{operation}", "Content-Type": "application/x-amz-json-1.0"},
        )
        SigV4Auth(Credentials("test", "test"), "dynamodb", "us-east-1").add_auth(request)
        head = ["POST / HTTP/1.1", f"Host: {url.netloc}", f"Content-Length: {len(request.body)}"]
        head += [f"{k}: {v}" for k, v in request.headers.items() if k.lower() != "host"]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + request.body

    slow = raw("DescribeTable", {"TableName": table})  # moto's, on a worker thread
    update = {"TableName": table, "Key": {"pk": {"S": "p"}}, "UpdateExpression": "SET #v = :v"}
    update |= {"ExpressionAttributeNames": {"#v": "v"}, "ExpressionAttributeValues": {":v": {"S": "x"}}}
    fast = raw("UpdateItem", update)  # the fast path's
    with socket.create_connection((url.hostname, url.port), timeout=10) as conn:
        conn.sendall(slow + fast)  # one write: both requests arrive before the first is answered
        received = b""
        while received.count(b"HTTP/1.1 ") < 2 or not received.rstrip().endswith(b"}"):
            chunk = conn.recv(65536)
            assert chunk, "connection closed early"
            received += chunk
    first, second = received.split(b"HTTP/1.1 ")[1:3]
    assert b'"Table"' in first and b"x-portico-local-fast-path" not in first
    assert b"x-portico-local-fast-path: 1" in second
