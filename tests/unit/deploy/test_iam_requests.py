"""The IAM check's reading of recorded calls: DynamoDB's multi-item calls are judged item by item, as IAM does."""

from __future__ import annotations

import json

from localdev.deploy import policy
from localdev.deploy.calls import describe

AUTH = "AWS4-HMAC-SHA256 Credential=AKIAEDGE/20261205/us-east-1/{service}/aws4_request, SignedHeaders=host"
ACCOUNT = "123456789012"


def _call(service: str, target: str, body: dict[str, object]) -> list[policy.Request]:
    headers = {
        "authorization": AUTH.format(service=service),
        "x-amz-target": target,
        "content-type": "application/x-amz-json-1.0",
    }
    call = describe("POST", "/", headers, json.dumps(body).encode())
    assert call is not None
    return policy.requests(call, ACCOUNT)


def _arn(table: str) -> str:
    return f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{table}"


def test_a_transaction_needs_each_items_own_action_on_its_table() -> None:
    items = [
        {"Put": {"TableName": "config", "Item": {}}},
        {"Update": {"TableName": "config", "Key": {}}},
        {"Delete": {"TableName": "other", "Key": {}}},
        {"ConditionCheck": {"TableName": "config", "Key": {}}},
        {"Put": {"TableName": "config", "Item": {}}},  # the same need once
    ]
    got = _call("dynamodb", "DynamoDB_20120810.TransactWriteItems", {"TransactItems": items})
    assert got == [
        policy.Request("dynamodb:PutItem", _arn("config"), ()),
        policy.Request("dynamodb:UpdateItem", _arn("config"), ()),
        policy.Request("dynamodb:DeleteItem", _arn("other"), ()),
        policy.Request("dynamodb:ConditionCheckItem", _arn("config"), ()),
    ]


def test_a_batch_read_needs_batchgetitem_on_every_table_it_names() -> None:
    body = {"RequestItems": {"quota": {"Keys": []}, "config": {"Keys": []}}}
    got = _call("dynamodb", "DynamoDB_20120810.BatchGetItem", body)
    assert got == [
        policy.Request("dynamodb:BatchGetItem", _arn("quota"), ()),
        policy.Request("dynamodb:BatchGetItem", _arn("config"), ()),
    ]


def test_a_transaction_is_denied_when_one_items_action_is_missing() -> None:
    items = [{"Put": {"TableName": "config", "Item": {}}}, {"Update": {"TableName": "config", "Key": {}}}]
    reqs = _call("dynamodb", "DynamoDB_20120810.TransactWriteItems", {"TransactItems": items})
    statements = [{"Sid": "Put", "Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": _arn("config")}]
    verdict = policy.judge(statements, reqs)
    assert [r.action for r in verdict.denied] == ["dynamodb:UpdateItem"] and verdict.unused == []


def test_a_secret_read_by_arn_is_judged_on_that_arn() -> None:
    arn = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:portal-AbCdEf"
    got = _call("secretsmanager", "secretsmanager.GetSecretValue", {"SecretId": arn})
    assert got == [policy.Request("secretsmanager:GetSecretValue", arn, ())]
