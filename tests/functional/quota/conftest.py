"""Quota fixtures: the DynamoDB quota store on the per-test tables."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from portico.adapters.dynamodb.quota_store import DynamoDbQuotaStore


@pytest.fixture
def quota_store(tables: dict[str, str]) -> Iterator[DynamoDbQuotaStore]:
    store = DynamoDbQuotaStore.from_env(timeout=2.0)
    try:
        yield store
    finally:
        store.close()
