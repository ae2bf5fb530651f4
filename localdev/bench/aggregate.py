"""Benchmark: aggregate fan-out and the response cache. Run: python -m localdev.bench.aggregate [--runs N]

1. Three parts, each a real HTTP upstream process answering after 50 ms: the aggregate's time as a ratio to the
   slowest single part fetched alone through the same transport (1.0 is perfect overlap, 3.0 is serial).
2. A cache hit against a miss to a mock upstream (same route shape, no cache) and a miss to a real HTTP upstream,
   through the full edge pipeline in process.
Ratios are against baselines measured in the same run, so a loaded machine shifts both sides alike.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from portico.core.chain import Context
from portico.core.config.configset import ConfigSet
from portico.core.config.context import ValidationSettings
from portico.core.config.loader import parse_documents
from portico.core.config.snapshot import LoadedConfig
from portico.core.headers import Headers
from portico.core.http import Request
from portico.edge.pipeline import Pipeline, build_pipeline
from portico.edge.root import default_deps
from portico.edge.settings import EdgeSettings

ROOT = Path(__file__).resolve().parents[2]
DELAY = 0.050

CONFIG = """
apiVersion: portico/v1
kind: Route
metadata: {{name: agg}}
spec:
  match: {{methods: [GET], path: /agg}}
  auth: {{none: {{}}}}
  upstream:
    aggregate:
      parts:
        a: {{http: {{url: "{a}/delay/{delay}", timeout: 2s}}}}
        b: {{http: {{url: "{b}/delay/{delay}", timeout: 2s}}}}
        c: {{http: {{url: "{c}/delay/{delay}", timeout: 2s}}}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: single}}
spec:
  match: {{methods: [GET], path: "/single/{{seconds}}"}}
  auth: {{none: {{}}}}
  upstream: {{http: {{url: "{a}/delay/{{seconds}}", timeout: 2s}}}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: cached}}
spec:
  match: {{methods: [GET], path: /cached}}
  auth: {{none: {{}}}}
  cache: {{ttl: 1h}}
  upstream: {{mock: {{json: {{items: [1, 2, 3], name: benchmark}}}}}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: mock}}
spec:
  match: {{methods: [GET], path: /mock}}
  auth: {{none: {{}}}}
  upstream: {{mock: {{json: {{items: [1, 2, 3], name: benchmark}}}}}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: http}}
spec:
  match: {{methods: [GET], path: /http}}
  auth: {{none: {{}}}}
  upstream: {{http: {{url: "{a}/items", timeout: 2s}}}}
"""


@contextlib.contextmanager
def upstreams(count: int) -> Iterator[list[str]]:
    """Echo servers on free ports, each its own process (as real services would be); all stopped on exit."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "shared"), str(ROOT)])}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "localdev.demo.echo", "--port", "0", "--name", f"part-{i}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(count)
    ]
    try:
        urls = []
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line.startswith("listening on "):
                raise RuntimeError(f"echo server did not start: {line!r}")
            urls.append(line.split()[-1])
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=5)


def build(urls: list[str]) -> Pipeline:
    docs, issues = parse_documents(
        CONFIG.format(a=urls[0], b=urls[1], c=urls[2], delay=DELAY), settings=ValidationSettings(allow_loopback=True)
    )
    if issues:
        raise SystemExit("\n".join(map(str, issues)))
    deps = default_deps(EdgeSettings.from_env({"PORTICO_ALLOW_LOOPBACK_UPSTREAMS": "true"}))
    return build_pipeline(LoadedConfig(1, ConfigSet.of(docs)), deps)


async def timed(pipe: Pipeline, path: str) -> float:
    request = Request("GET", path, headers=Headers([("host", "bench.local")]), host="bench.local")
    ctx = Context(request=request, now=time.time(), request_id="bench")
    start = time.perf_counter()
    response = await pipe.handler(ctx)
    elapsed = time.perf_counter() - start
    if response.status != 200:
        raise SystemExit(f"{path} answered {response.status}: {response.body[:300]!r}")
    return elapsed


async def sample(pipe: Pipeline, path: str, runs: int) -> list[float]:
    await timed(pipe, path)  # warm-up: connections pooled, caches filled
    return [await timed(pipe, path) for _ in range(runs)]


def ms(values: list[float]) -> str:
    q = statistics.quantiles(values, n=10)
    return f"median {statistics.median(values) * 1e3:7.2f} ms  p90 {q[-1] * 1e3:7.2f} ms"


def us(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1e6:7.1f} µs"


async def main(runs: int) -> None:
    with upstreams(3) as urls:
        pipe = build(urls)
        # interleave the two so drift in machine load hits both alike
        single: list[float] = []
        fanout: list[float] = []
        await sample(pipe, f"/single/{DELAY}", 1)
        await sample(pipe, "/agg", 1)
        for _ in range(runs):
            single.append(await timed(pipe, f"/single/{DELAY}"))
            fanout.append(await timed(pipe, "/agg"))
        print(f"aggregate of 3 parts x {DELAY * 1e3:.0f} ms (real HTTP upstream processes, {runs} runs each)")
        print(f"  slowest single part alone : {ms(single)}")
        print(f"  aggregate of three parts  : {ms(fanout)}")
        ratio = statistics.median(fanout) / statistics.median(single)
        best = min(fanout) / DELAY
        print(f"  ratio aggregate/single    : {ratio:.2f}x (median)   best aggregate = {best:.2f}x the 50 ms delay")

        hits = await sample(pipe, "/cached", runs * 20)
        mocks = await sample(pipe, "/mock", runs * 20)
        http = await sample(pipe, "/http", runs * 4)
        print(f"\nresponse cache (full edge pipeline in process, {runs * 20} runs)")
        print(f"  cache hit                 : {us(hits)}")
        hit = statistics.median(hits)
        print(f"  miss to a mock upstream   : {us(mocks)}   hit/mock = {hit / statistics.median(mocks):.2f}x")
        print(f"  miss to an HTTP upstream  : {us(http)}   hit/http = {hit / statistics.median(http):.3f}x")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.runs))


if __name__ == "__main__":
    cli()
