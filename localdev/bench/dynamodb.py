"""Local DynamoDB benchmark: 32 concurrent boto3 clients doing the quota's conditional ADD, per endpoint, one run.

Run: python -m localdev.bench.dynamodb [--runs 3] [--ops 200] [--processes 4]. In the same run it measures:
  plain moto    `python -m moto.server` as users start it (threaded werkzeug, no lock: it loses updates)
  serialised    the embedded endpoint as it was: werkzeug, moto answers everything, one global lock
  embedded      the embedded endpoint now: one asyncio loop, the DynamoDB fast path, the same global lock
Each client is a boto3 client of its own on its own thread (the clients are spread over --processes processes so
one Python's GIL is not what is measured). Every client does --ops UpdateItem calls of
`ADD #n :one` with `attribute_not_exists(#n) OR #n < :limit` on one hot item; the final count must be exactly
clients x ops. Reported per endpoint: ops/s, client-observed p50/p99, the server's CPU per call (from /proc), the
final count, and ratios against plain moto. With --runs N, the median of N runs with every value. The clients' own
CPU per call is reported too: 32 boto3 clients on a 2-core machine spend most of it, which bounds ops/s whatever
the server does (ops/s <= cores / (client + server CPU per call)).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localdev.bench.tools import cpu_seconds, free_port

CLIENTS = 32
_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Result:
    name: str
    ops_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_call: float
    client_cpu_ms_per_call: float  # the boto3 clients' own CPU (all worker processes): what the machine has left
    count: int
    expected: int


def _client(url: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "dynamodb",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, max_pool_connections=2),
    )


def _update(ddb: Any, table: str) -> None:
    ddb.update_item(
        TableName=table,
        Key={"pk": {"S": "hot"}},
        UpdateExpression="ADD #n :one",
        ConditionExpression="attribute_not_exists(#n) OR #n < :limit",
        ExpressionAttributeNames={"#n": "n"},
        ExpressionAttributeValues={":one": {"N": "1"}, ":limit": {"N": "1000000000"}},
    )


def worker(url: str, table: str, threads: int, ops: int) -> None:
    """One client process: build `threads` clients, say ready, wait for the go line, print latencies as JSON."""
    clients = [_client(url) for _ in range(threads)]
    for ddb in clients:
        ddb.describe_table(TableName=table)  # opens each client's connection before the clock starts
    print("ready", flush=True)
    sys.stdin.readline()
    samples: list[float] = []
    errors: list[str] = []

    def run(ddb: Any) -> None:
        for _ in range(ops):
            t0 = time.perf_counter()
            try:
                _update(ddb, table)
            except Exception as exc:  # reported, never hidden: a failed call breaks the count check too
                errors.append(f"{type(exc).__name__}: {exc}")
            samples.append(time.perf_counter() - t0)

    pool = [threading.Thread(target=run, args=(c,)) for c in clients]
    cpu = time.process_time()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    cpu = time.process_time() - cpu
    print(json.dumps({"samples": samples, "errors": errors[:3], "error_count": len(errors), "cpu": cpu}), flush=True)


def _start(kind: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(_ROOT))
    if kind == "plain moto":
        cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    else:
        cmd = [sys.executable, "-m", "localdev.aws", "--port", str(port), "--quiet"]
        if kind == "serialised":
            cmd += ["--http", "werkzeug", "--no-fast-path"]
    out = open(log, "ab")  # noqa: SIM115  # the child keeps its own descriptor
    process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=_ROOT)
    out.close()
    url = f"http://127.0.0.1:{port}"
    from localdev.aws import endpoint_answers

    deadline = time.monotonic() + 60
    while not endpoint_answers(url):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"{kind} did not start; see {log}")
        time.sleep(0.2)
    return process, url


def measure(kind: str, processes: int, ops: int, log: Path) -> Result:
    server, url = _start(kind, log)
    try:
        ddb = _client(url)
        table = "bench"
        ddb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        per = [CLIENTS // processes + (1 if i < CLIENTS % processes else 0) for i in range(processes)]
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "localdev.bench.dynamodb", "--worker", url, table, str(n), str(ops)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=_ROOT,
                env=dict(os.environ, PYTHONPATH=str(_ROOT)),
            )
            for n in per
        ]
        for w in workers:
            assert w.stdout is not None
            if w.stdout.readline().strip() != "ready":
                raise SystemExit("a client process did not start")
        cpu0 = cpu_seconds(server.pid)
        started = time.perf_counter()
        for w in workers:
            assert w.stdin is not None
            w.stdin.write("go\n")
            w.stdin.flush()
        reports = [json.loads(w.communicate(timeout=600)[0]) for w in workers]
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(server.pid) - cpu0
        samples = sorted(s for r in reports for s in r["samples"])
        failed = sum(r["error_count"] for r in reports)
        if failed:
            print(f"  {kind}: {failed} calls failed, e.g. {reports[0]['errors'][:1]}", file=sys.stderr)
        item = ddb.get_item(TableName=table, Key={"pk": {"S": "hot"}}, ConsistentRead=True).get("Item", {})
        calls = len(samples)
        return Result(
            kind,
            calls / elapsed,
            samples[calls // 2] * 1000,
            samples[int(calls * 0.99)] * 1000,
            cpu / calls * 1000,
            sum(r["cpu"] for r in reports) / calls * 1000,
            int(item.get("n", {}).get("N", "0")),
            CLIENTS * ops,
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:  # the measurement is done; say so rather than lose it
            print(f"  {kind}: did not stop within 10 s of SIGTERM; killed", file=sys.stderr)
            server.kill()
            server.wait(timeout=10)


def _print_run(results: list[Result]) -> None:
    base = results[0]
    print(
        f"{'endpoint':<12} {'ops/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'cpu ms/call':>12} {'client cpu':>10} "
        f"{'count':>13} ratio"
    )
    for r in results:
        print(
            f"{r.name:<12} {r.ops_per_s:>8.0f} {r.p50_ms:>8.1f} {r.p99_ms:>8.1f} {r.cpu_ms_per_call:>12.3f} "
            f"{r.client_cpu_ms_per_call:>10.3f} "
            f"{r.count:>6}/{r.expected:<6} {r.ops_per_s / base.ops_per_s:.2f}x ops/s, "
            f"{base.cpu_ms_per_call / r.cpu_ms_per_call:.1f}x less CPU/call"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localdev.bench.dynamodb", description=__doc__)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--ops", type=int, default=200, help="UpdateItem calls per client")
    parser.add_argument("--processes", type=int, default=4, help="client processes sharing the 32 clients")
    parser.add_argument("--only", choices=("plain moto", "serialised", "embedded"), action="append")
    parser.add_argument("--quick", action="store_true", help="a smoke run: plain moto and embedded, 5 calls per client")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.ops, args.processes = 5, 2
    if args.worker:
        url, table, threads, ops = args.worker
        worker(url, table, int(threads), int(ops))
        return 0
    kinds = args.only or (["plain moto", "embedded"] if args.quick else ["plain moto", "serialised", "embedded"])
    log = Path(tempfile.mkdtemp(prefix="bench-dynamodb-")) / "servers.log"
    runs: list[list[Result]] = []
    for n in range(args.runs):
        print(f"run {n + 1}/{args.runs}: {CLIENTS} clients x {args.ops} UpdateItem, {args.processes} processes")
        results = [measure(kind, args.processes, args.ops, log) for kind in kinds]
        _print_run(results)
        runs.append(results)
    atomic = all(r.count == r.expected for run in runs for r in run if r.name != "plain moto")
    if args.runs > 1:
        print(f"\nmedian of {args.runs} runs (values in brackets)")
        for i, kind in enumerate(kinds):
            for field in ("ops_per_s", "p99_ms", "cpu_ms_per_call", "client_cpu_ms_per_call"):
                values = [getattr(run[i], field) for run in runs]
                shown = ", ".join(f"{v:.4g}" for v in values)
                print(f"  {kind:<12} {field:<22} {statistics.median(values):>9.4g}  [{shown}]")
            counts = [run[i].count for run in runs]
            print(f"  {kind:<12} {'final count':<16} {counts} of {runs[0][i].expected}")
    print("atomic (every non-plain endpoint counted exactly):", "yes" if atomic else "NO")
    return 0 if atomic else 1


if __name__ == "__main__":
    sys.exit(main())
