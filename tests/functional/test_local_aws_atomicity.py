"""The embedded local AWS keeps DynamoDB's atomicity: concurrent ADDs and conditional writes lose nothing.

Plain moto server fails both: concurrent UpdateItems read-modify-write the same item and overwrite each other.
This module gets a server of its own whose threads switch every 10 µs: plain moto then loses updates on
every run (about 1 in 3 runs at the default interval), so a regression cannot slip through by luck. It runs twice:
with the DynamoDB fast path (answered on the event loop or, when the lock is taken, on a worker thread) and with
moto answering everything on worker threads, so the lock around moto's own path is proven on its own too.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from portico.adapters.aws import client

THREADS = 8
OPS_PER_THREAD = 250
LIMIT = 500


@pytest.fixture(scope="module", params=["fast-path", "moto-only"])
def local_aws(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Overrides the session endpoint (the `tables` fixture follows) with a thread-hostile one."""
    from localdev import aws

    log_path = tmp_path_factory.mktemp("hostile-aws") / "local-aws.log"
    external = os.environ.get("PORTICO_TEST_AWS_ENDPOINT")
    fast = request.param == "fast-path"
    with aws.serving(log_path, url=external, switch_interval=1e-5, fast_path=fast) as url:
        yield url


def _run_concurrently(work: Callable[[Any], tuple[int, int]]) -> tuple[int, int]:
    """Run `work(client)` on THREADS threads started together; sum their (succeeded, rejected) counts."""
    # One client per thread, built up front: boto3 sessions are unsafe to create concurrently. No retries, so
    # a retried non-idempotent ADD can neither hide nor cause a miscount.
    clients = [client("dynamodb", retries=1) for _ in range(THREADS)]
    barrier = threading.Barrier(THREADS)
    results: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def run(ddb: Any) -> None:
        try:
            barrier.wait(timeout=30)
            results.append(work(ddb))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "worker threads did not finish"
    assert not errors, errors[0]
    return sum(r[0] for r in results), sum(r[1] for r in results)


def _count(ddb: Any, table: str, key: str) -> int:
    item = ddb.get_item(TableName=table, Key={"pk": {"S": key}}, ConsistentRead=True)["Item"]
    return int(item["n"]["N"])


@pytest.mark.timeout(120)
def test_concurrent_add_loses_no_update(tables: dict[str, str]) -> None:
    table = tables["quota"]

    def add(ddb: Any) -> tuple[int, int]:
        for _ in range(OPS_PER_THREAD):
            ddb.update_item(
                TableName=table,
                Key={"pk": {"S": "counter"}},
                UpdateExpression="ADD n :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
        return OPS_PER_THREAD, 0

    succeeded, _ = _run_concurrently(add)
    assert succeeded == THREADS * OPS_PER_THREAD
    assert _count(client("dynamodb"), table, "counter") == THREADS * OPS_PER_THREAD


@pytest.mark.timeout(120)
def test_conditional_limit_never_over_admits(tables: dict[str, str]) -> None:
    table = tables["quota"]

    def admit(ddb: Any) -> tuple[int, int]:
        admitted = rejected = 0
        for _ in range(OPS_PER_THREAD):
            try:
                ddb.update_item(
                    TableName=table,
                    Key={"pk": {"S": "limited"}},
                    UpdateExpression="ADD n :one",
                    ConditionExpression="attribute_not_exists(n) OR n < :limit",
                    ExpressionAttributeValues={":one": {"N": "1"}, ":limit": {"N": str(LIMIT)}},
                )
                admitted += 1
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                rejected += 1
        return admitted, rejected

    admitted, rejected = _run_concurrently(admit)
    assert (admitted, rejected) == (LIMIT, THREADS * OPS_PER_THREAD - LIMIT)
    assert _count(client("dynamodb"), table, "limited") == LIMIT
