"""Quota fixtures: the DynamoDB quota store on the per-test tables."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from portico.adapters.dynamodb.quota_store import DynamoDbQuotaStore


@pytest.fixture
def quota_store(tables: dict[str, str]) -> Iterator[DynamoDbQuotaStore]:
    # boto3's client, whatever from_env would choose: these tests inject faults through its event hooks (the JSON
    # client's path is covered through the front door in tests/e2e/test_quota_frontdoor.py)
    store = DynamoDbQuotaStore.from_env(timeout=2.0, sdk="boto3")
    try:
        yield store
    finally:
        store.close()
