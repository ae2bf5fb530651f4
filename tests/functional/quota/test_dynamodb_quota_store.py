"""The DynamoDB quota store against the local endpoint: one conditional write, no read, exact under concurrency."""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

from portico.adapters.dynamodb.quota_store import DynamoDbQuotaStore
from portico.core.quota.limiter import QuotaLimiter
from portico.core.quota.plan import QuotaLimit, QuotaPolicy

NOW = 1_700_000_041.0


def _calls(store: DynamoDbQuotaStore) -> list[str]:
    """Every DynamoDB operation the store's client sends, recorded at the client's own event hook."""
    seen: list[str] = []
    store._client.meta.events.register("before-call.dynamodb", lambda model, **_: seen.append(model.name))
    return seen


def test_add_is_one_conditional_update_that_refuses_past_the_ceiling_and_sets_ttl_once(
    quota_store: DynamoDbQuotaStore, dynamodb: Any, tables: dict[str, str]
) -> None:
    calls = _calls(quota_store)

    async def go() -> list[int | None]:
        return [
            await quota_store.add("k", 2, 5, 1000),
            await quota_store.add("k", 2, 5, 2000),
            await quota_store.add("k", 2, 5, 3000),
            await quota_store.add("k", 1, 5, 4000),
        ]

    assert asyncio.run(go()) == [2, 4, None, 5]
    assert calls == ["UpdateItem"] * 4 and quota_store.writes == 4
    item = dynamodb.get_item(TableName=tables["quota"], Key={"pk": {"S": "k"}})["Item"]
    assert item["n"] == {"N": "5"} and item["expiresAt"] == {"N": "1000"}  # if_not_exists: the first TTL stays
    assert asyncio.run(quota_store.counts(["k", "absent"])) == {"k": 5, "absent": 0}


def test_500_concurrent_charges_from_16_threads_admit_exactly_50(
    quota_store: DynamoDbQuotaStore,
) -> None:
    limiter = QuotaLimiter(quota_store)
    policy = QuotaPolicy("burst", "consumer", (QuotaLimit("1m", 50, 60),))
    for _round in range(1):  # the store's own proof; test_edge_quota repeats it 5 times through the handler
        partition = f"consumer:{uuid.uuid4().hex}"
        admitted: list[int] = []
        barrier = threading.Barrier(16)
        writes_before = quota_store.writes

        def worker(
            requests: int,
            partition: str = partition,
            barrier: threading.Barrier = barrier,
            admitted: list[int] = admitted,
        ) -> None:
            async def burst() -> int:
                found = await asyncio.gather(*(limiter.check(policy, partition, NOW) for _ in range(requests)))
                return sum(d.admitted for d in found)

            barrier.wait(timeout=30)
            admitted.append(asyncio.run(burst()))

        threads = [threading.Thread(target=worker, args=(32 if i < 4 else 31,)) for i in range(16)]  # 500 in all
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert len(admitted) == 16
        assert sum(admitted) == 50
        # one write per request until a refusal; after that this instance knows the counter is spent for the rest
        # of its window and refuses with no write (16 threads race, so several refusals may be written)
        writes = quota_store.writes - writes_before
        assert 51 <= writes < 500, writes


def test_leasing_instances_never_over_admit_and_write_a_tenth_as_often(quota_store: DynamoDbQuotaStore) -> None:
    # Four instances (each its own limiter and leases, as four Lambda environments) share one hot counter.
    instances = [QuotaLimiter(quota_store) for _ in range(4)]
    steady = QuotaPolicy("hot", "ip", (QuotaLimit("1m", 100_000, 60),), mode="leasing", lease_size=10)
    before = quota_store.writes

    async def serve(limiter: QuotaLimiter, policy: QuotaPolicy, requests: int, now: float) -> int:
        return sum([(await limiter.check(policy, "ip:198.51.100.1", now)).admitted for _ in range(requests)])

    async def all_instances(policy: QuotaPolicy, requests: int, now: float) -> list[int]:
        return list(await asyncio.gather(*(serve(i, policy, requests, now) for i in instances)))

    assert asyncio.run(all_instances(steady, 250, NOW)) == [250] * 4
    assert (quota_store.writes - before) / 1000 <= 0.1  # counted at the store's client: 100 writes for 1000

    # Near the limit: 4 instances x 60 requests against 170. Nothing over, and only leased-but-unspent is lost.
    tight = QuotaPolicy("tight", "ip", (QuotaLimit("1m", 170, 60),), mode="leasing", lease_size=10)
    admitted = sum(asyncio.run(all_instances(tight, 60, NOW)))
    unspent = sum(i.leases.unspent() for i in instances)
    counted = asyncio.run(quota_store.counts([f"tight|60|ip:198.51.100.1|{int(NOW // 60)}"]))
    assert admitted <= 170
    assert admitted + unspent == sum(counted.values())
    assert admitted >= 170 - 4 * (10 - 1)  # the stated bound: under by at most (leaseSize - 1) per instance
