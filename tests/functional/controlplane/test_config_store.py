"""The config store against the local AWS endpoint: transactional apply, versioning, corrupted items, outages."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import pytest

from portico.adapters.dynamodb.config_store import DynamoDbConfigStore
from portico.controlplane import apply_documents, read_files
from portico.core.config.context import ValidationSettings
from portico.core.config.refresh import ConfigCache
from portico.core.config.snapshot import load_snapshot
from portico.core.ports import ConcurrentChange, StoreUnavailable

FIXTURES = Path(__file__).parents[2] / "fixtures" / "config"
ALL_KINDS = FIXTURES / "valid-all.yaml"


@pytest.fixture
def store(tables: dict[str, str], dynamodb: Any) -> DynamoDbConfigStore:
    return DynamoDbConfigStore(tables["config"], client=dynamodb)


def _docs(path: Path = ALL_KINDS) -> list[Any]:
    return read_files([path], ValidationSettings())


def test_apply_writes_every_kind_and_bumps_the_version_once(store: DynamoDbConfigStore) -> None:
    result = apply_documents(store, _docs())
    assert (result.version_before, result.version_after) == (0, 1)
    loaded = load_snapshot(store.snapshot())
    assert loaded.version == 1 and loaded.skipped == ()
    assert {d.kind for d in loaded.config.documents()} == {d.kind for d in _docs()}
    stored = {(d.kind, d.metadata.name): d for d in loaded.config.documents()}
    assert stored == {(d.kind, d.metadata.name): d for d in _docs()}  # equal models: every field round-trips


def test_reapplying_the_same_file_writes_nothing(store: DynamoDbConfigStore) -> None:
    apply_documents(store, _docs())
    again = apply_documents(store, _docs())
    assert again.plan.changes == () and store.version() == 1


def test_dry_run_writes_nothing(store: DynamoDbConfigStore) -> None:
    result = apply_documents(store, _docs(), dry_run=True)
    assert len(result.plan.changes) == 7
    assert store.version() == 0 and store.snapshot().documents == []


def test_a_concurrent_apply_is_refused_and_writes_nothing(store: DynamoDbConfigStore) -> None:
    apply_documents(store, _docs())
    before = store.snapshot()
    store.apply([], [("Route", "orders-get")], expected_version=1)  # someone else got there first
    with pytest.raises(ConcurrentChange):
        store.apply(list(before.documents[:1]), expected_version=1)
    assert store.version() == 2


def test_a_corrupted_item_is_skipped_and_logged_and_the_rest_loads(
    store: DynamoDbConfigStore, tables: dict[str, str], dynamodb: Any, caplog: pytest.LogCaptureFixture
) -> None:
    apply_documents(store, _docs())
    table = tables["config"]
    # What a hand edit in the console can leave behind: broken JSON, a wrong type, a body that fails validation.
    dynamodb.put_item(TableName=table, Item={"kind": {"S": "Route"}, "name": {"S": "broken-json"}, "body": {"S": "{"}})
    dynamodb.put_item(TableName=table, Item={"kind": {"S": "Route"}, "name": {"S": "no-body"}, "body": {"N": "1"}})
    bad = {"apiVersion": "portico/v1", "kind": "Route", "metadata": {"name": "bad-spec"}, "spec": {"match": {}}}
    dynamodb.put_item(
        TableName=table, Item={"kind": {"S": "Route"}, "name": {"S": "bad-spec"}, "body": {"S": json.dumps(bad)}}
    )
    with caplog.at_level(logging.ERROR, logger="portico.config"):
        loaded = ConfigCache(store).current(now=0.0)
    assert set(loaded.config.routes) == {"orders-get"}
    assert len(loaded.config.documents()) == 7
    assert sorted(str(s).split(":")[0] for s in loaded.skipped) == [
        "Route/bad-spec",
        "Route/broken-json",
        "Route/no-body",
    ]
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "Route/broken-json" in logged and "Route/no-body" in logged and "Route/bad-spec" in logged


def test_readers_reload_only_when_the_version_changes(store: DynamoDbConfigStore) -> None:
    apply_documents(store, _docs())
    cache = ConfigCache(store, interval=5.0)
    first = cache.current(now=100.0)
    store.apply([], [("Route", "orders-get")])
    assert cache.current(now=103.0) is first  # inside the interval: no store call at all
    second = cache.current(now=105.0)
    assert second.version == 2 and "orders-get" not in second.config.routes
    assert cache.current(now=111.0) is second  # version unchanged: the snapshot is kept


class SwitchableStore:
    """Delegates to the store in `current`; the test swaps in one whose endpoint is down."""

    def __init__(self, current: DynamoDbConfigStore) -> None:
        self.current = current

    def version(self) -> int:
        return self.current.version()

    def snapshot(self) -> Any:
        return self.current.snapshot()

    def apply(self, *args: Any, **kwargs: Any) -> int:
        return self.current.apply(*args, **kwargs)


def test_a_store_outage_keeps_the_last_snapshot_serving(store: DynamoDbConfigStore, tables: dict[str, str]) -> None:
    apply_documents(store, _docs())
    switch = SwitchableStore(store)
    cache = ConfigCache(switch, interval=1.0)
    good = cache.current(now=0.0)
    # Nothing listens on port 9: connection refused, the way an unreachable endpoint fails.
    dead_client = boto3.client(
        "dynamodb",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        config=botocore.config.Config(connect_timeout=0.5, retries={"max_attempts": 1}),
    )
    switch.current = DynamoDbConfigStore(tables["config"], client=dead_client)
    with pytest.raises(StoreUnavailable):
        switch.version()
    assert cache.current(now=5.0) is good
