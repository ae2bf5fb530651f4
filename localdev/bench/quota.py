"""Quota benchmark: writes per request counted at the store, and time added per request, exact vs leasing mode.

Run: python -m localdev.bench.quota [--requests N] [--concurrency C]. It starts a local AWS endpoint on a free port
(or uses PORTICO_TEST_AWS_ENDPOINT), creates the quota table from template.yaml, and measures in the same run:
  baseline  the limiter on an in-memory store (no I/O): the cost of the quota logic alone
  exact     one conditional UpdateItem per limit per request
  leasing   batches of leaseSize tokens per write, spent locally
"Added" is the median per-request time minus the baseline's. Writes are UpdateItem calls the store's client sent.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portico.core.ports import QuotaStore
from portico.core.quota.limiter import QuotaLimiter
from portico.core.quota.plan import QuotaLimit, QuotaPolicy

ONE_LIMIT = (QuotaLimit("1m", 10_000_000, 60),)
BURST_AND_MONTHLY = (QuotaLimit("1s", 1_000_000, 1), QuotaLimit("30d", 1_000_000_000, 30 * 86400))


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    writes_per_request: float
    p50_us: float
    p99_us: float
    mean_us: float
    throughput: float


async def _measure(name: str, limiter: QuotaLimiter, policy: QuotaPolicy, requests: int, concurrency: int) -> Result:
    store: Any = limiter.store
    partition = f"ip:bench-{uuid.uuid4().hex[:8]}"  # a fresh hot key: every request hits the same counter items
    for _ in range(min(50, requests)):  # warm connections and the first lease
        await limiter.check(policy, partition, time.time())
    writes_before = store.writes
    samples: list[int] = []

    async def worker(count: int) -> None:
        for _ in range(count):
            t0 = time.perf_counter_ns()
            decision = await limiter.check(policy, partition, time.time())
            samples.append(time.perf_counter_ns() - t0)
            if not decision.admitted:
                raise RuntimeError(f"{name}: refused during the benchmark; limits are meant to be out of reach")

    started = time.perf_counter()
    share, extra = divmod(requests, concurrency)
    await asyncio.gather(*(worker(share + (1 if i < extra else 0)) for i in range(concurrency)))
    elapsed = time.perf_counter() - started
    samples.sort()
    return Result(
        name,
        (store.writes - writes_before) / requests,
        samples[len(samples) // 2] / 1000,
        samples[int(len(samples) * 0.99)] / 1000,
        sum(samples) / len(samples) / 1000,
        requests / elapsed,
    )


def _policy(limits: tuple[QuotaLimit, ...], mode: str, lease: int) -> QuotaPolicy:
    return QuotaPolicy("bench", "ip", limits, mode=mode, lease_size=lease)  # type: ignore[arg-type]


async def _suite(dynamo: QuotaStore, memory_factory: Any, requests: int, concurrency: int) -> list[Result]:
    results = []
    for label, limits, lease in (("1 limit", ONE_LIMIT, 10), ("burst+monthly", BURST_AND_MONTHLY, 20)):
        cases = (
            (f"{label} baseline", QuotaLimiter(memory_factory()), "exact"),
            (f"{label} exact", QuotaLimiter(dynamo), "exact"),
            (f"{label} leasing(lease={lease})", QuotaLimiter(dynamo), "leasing"),
        )
        for name, limiter, mode in cases:
            results.append(await _measure(name, limiter, _policy(limits, mode, lease), requests, concurrency))
    return results


def _report(results: list[Result], requests: int, concurrency: int) -> None:
    print(f"quota benchmark: {requests} requests, concurrency {concurrency}, local AWS endpoint")
    print(f"{'case':34} {'writes/req':>10} {'p50 µs':>8} {'p99 µs':>8} {'mean µs':>8} {'added mean':>10} {'req/s':>8}")
    baseline = exact = 0.0
    for r in results:
        if r.name.endswith("baseline"):
            baseline = r.mean_us
        added = r.mean_us - baseline
        cells = f"{r.writes_per_request:10.3f} {r.p50_us:8.0f} {r.p99_us:8.0f} {r.mean_us:8.0f} {added:10.0f}"
        print(f"{r.name:34} {cells} {r.throughput:8.0f}")
        if r.name.endswith("exact"):
            exact = added
        elif "leasing" in r.name and exact:
            print(f"{'':34} leasing/exact: time added x{added / exact:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=1, help="coroutines sharing one limiter (1 = Lambda)")
    args = parser.parse_args()

    from localdev import aws
    from localdev.tables import create_tables
    from portico.adapters.aws import client
    from portico.adapters.dynamodb.quota_store import DynamoDbQuotaStore
    from portico.adapters.memory import InMemoryQuotaStore

    with (
        tempfile.TemporaryDirectory() as tmp,
        aws.serving(Path(tmp) / "aws.log", url=os.environ.get("PORTICO_TEST_AWS_ENDPOINT")),
    ):
        suffix = uuid.uuid4().hex[:8]
        names = {role: f"portico-{role}-bench-{suffix}" for role in ("config", "quota", "registry")}
        table = names["quota"]
        ddb = client("dynamodb")
        create_tables(ddb, names)
        store = DynamoDbQuotaStore(table, client("dynamodb", timeout=2.0, retries=1, pool=32))
        try:
            results = asyncio.run(_suite(store, InMemoryQuotaStore, args.requests, args.concurrency))
        finally:
            store.close()
            for name in names.values():
                ddb.delete_table(TableName=name)
    _report(results, args.requests, args.concurrency)
    print("Per request; 'added mean' subtracts the in-memory baseline of the same policy (the quota logic alone).")


if __name__ == "__main__":
    main()
