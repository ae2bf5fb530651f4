"""gRPC transcoding benchmark: the edge's cost per request for a grpc upstream vs a plain JSON http upstream.

Both routes carry the same JSON payload and get it back unchanged (gRPC: the demo Library's Echo; HTTP: a mirror
server), measured in the same run, interleaved in rounds so machine noise hits both alike:
- transcoding alone (no I/O): JSON body -> request message -> bytes, reply bytes -> JSON, vs json.loads + json.dumps
  of the same payload (what the http route at least does to look at a body);
- per request through the in-process edge (event -> pipeline -> upstream -> serialised answer): the edge process's
  CPU time and wall-clock p50/p99, for grpc vs http. The upstreams run in their own processes, so the edge's CPU
  time is the edge's own work.
Run: python -m localdev.bench.grpc [--quick]. Not a timed test: nothing here asserts a figure.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PAYLOAD: dict[str, Any] = {
    "text": "The quick brown fox jumps over the lazy dog. " * 4,
    "number": "9007199254740993",
    "items": [f"item-{i}" for i in range(20)],
    "labels": {f"key{i}": f"value {i}" for i in range(10)},
    "author": {"displayName": "Ursula K. Le Guin", "bornYear": 1929},
}
CONFIG = """apiVersion: portico/v1
kind: Route
metadata: {{name: via-grpc}}
spec:
  match: {{methods: [POST], path: /v1/echo}}
  auth: {{none: {{}}}}
  upstream: {{grpc: {{descriptorSet: {descriptors}, service: portico.demo.v1.Library, method: Echo,
    target: "{grpc}", tls: {{enabled: false}}, timeout: 5s}}}}
---
apiVersion: portico/v1
kind: Route
metadata: {{name: via-http}}
spec:
  match: {{methods: [POST], path: /http/echo}}
  auth: {{none: {{}}}}
  upstream: {{http: {{url: "{http}/echo", timeout: 5s}}}}
"""


async def _mirror(port: int) -> None:
    """The JSON http upstream: answers each request with its own body as application/json."""
    from portico.core.headers import Headers
    from portico.core.http import Request, Response
    from portico.mesh.http1 import ConnInfo
    from portico.mesh.listener import listen

    async def app(req: Request, info: ConnInfo) -> Response:
        return Response(200, Headers([("content-type", "application/json")]), req.body)

    listener = await listen("mirror", app, "127.0.0.1", port)
    print(f"listening on http://127.0.0.1:{listener.port}", flush=True)
    async with listener.server:
        await listener.server.serve_forever()


def _spawn(argv: list[str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "shared"), str(ROOT)])}
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        for line in log.read_text().splitlines():
            if line.startswith("listening on "):
                return proc, line.split()[-1]
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{argv} did not start: {log.read_text()[-1000:]}")


@contextlib.contextmanager
def upstreams(tmp: Path) -> Iterator[tuple[str, str]]:
    procs: list[subprocess.Popen[bytes]] = []
    try:
        grpc_proc, grpc_target = _spawn([sys.executable, "-m", "localdev.grpc.server", "--port", "0"], tmp / "g.log")
        procs.append(grpc_proc)
        http_proc, http_url = _spawn([sys.executable, "-m", "localdev.bench.grpc", "--mirror"], tmp / "h.log")
        procs.append(http_proc)
        yield grpc_target, http_url
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _event(path: str, body: bytes) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "api.example.com", "content-type": "application/json", "user-agent": "bench"},
        "requestContext": {"http": {"method": "POST", "path": path, "sourceIp": "10.0.0.1"}, "requestId": "r"},
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }


def transcoding_only(descriptors: bytes, body: bytes, iterations: int) -> tuple[float, float]:
    """Median microseconds: grpc transcoding round trip vs json.loads + json.dumps of the same body."""
    from portico.core.grpc.descriptors import find_method, load_set
    from portico.core.grpc.transcode import Transcoder

    info = find_method(load_set(descriptors), "portico.demo.v1.Library", "Echo")
    transcoder = Transcoder(info, info.annotated)
    binding, values = transcoder.select("POST", "/v1/echo")  # type: ignore[misc]

    def grpc_way() -> None:
        data = transcoder.request_message(binding, values, [], body).SerializeToString()
        json.dumps(transcoder.reply_json(data, binding), separators=(",", ":")).encode()

    def json_way() -> None:
        json.dumps(json.loads(body), separators=(",", ":")).encode()

    return _interleaved(grpc_way, json_way, iterations)


def _interleaved(a: Callable[[], None], b: Callable[[], None], iterations: int) -> tuple[float, float]:
    times_a, times_b = [], []
    for _ in range(min(iterations, 500)):  # warm-up
        a()
        b()
    for _ in range(iterations):
        t0 = time.perf_counter_ns()
        a()
        t1 = time.perf_counter_ns()
        b()
        t2 = time.perf_counter_ns()
        times_a.append(t1 - t0)
        times_b.append(t2 - t1)
    return statistics.median(times_a) / 1000, statistics.median(times_b) / 1000


def through_edge(config: Path, body: bytes, rounds: int, per_round: int) -> dict[str, dict[str, float]]:
    """Per route: edge CPU microseconds per request and wall p50/p99, over interleaved rounds."""
    from localdev.bench.tools import quiet_telemetry
    from portico.edge.runtime import Edge

    with quiet_telemetry() as telemetry:
        return _through_edge(
            Edge.from_env(
                {"PORTICO_CONFIG_FILE": str(config), "PORTICO_ALLOW_LOOPBACK_UPSTREAMS": "true"}, telemetry=telemetry
            ),
            body,
            rounds,
            per_round,
        )


def _through_edge(edge: Any, body: bytes, rounds: int, per_round: int) -> dict[str, dict[str, float]]:
    events = {"grpc": _event("/v1/echo", body), "http": _event("/http/echo", body)}
    for name, event in events.items():  # warm-up: channels and pooled connections open, replies checked
        answer = edge.handle(event)
        got = json.loads(base64.b64decode(answer["body"]) if answer.get("isBase64Encoded") else answer["body"])
        if answer["statusCode"] != 200 or got != PAYLOAD:
            raise RuntimeError(f"{name} route answered {answer['statusCode']}: {got}")
        for _ in range(min(per_round, 200)):
            edge.handle(event)
    wall: dict[str, list[float]] = {"grpc": [], "http": []}
    cpu: dict[str, float] = {"grpc": 0.0, "http": 0.0}
    for _ in range(rounds):
        for name, event in events.items():
            c0 = time.process_time()
            for _ in range(per_round):
                t0 = time.perf_counter_ns()
                edge.handle(event)
                wall[name].append(time.perf_counter_ns() - t0)
            cpu[name] += time.process_time() - c0
    edge.close()
    total = rounds * per_round
    out: dict[str, dict[str, float]] = {}
    for name, samples in wall.items():
        samples.sort()
        out[name] = {
            "cpu": cpu[name] / total * 1e6,
            "p50": samples[len(samples) // 2] / 1000,
            "p99": samples[int(len(samples) * 0.99)] / 1000,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny iteration counts (smoke test)")
    parser.add_argument("--mirror", action="store_true", help=argparse.SUPPRESS)  # the JSON upstream process
    args = parser.parse_args()
    if args.mirror:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_mirror(0))
        return
    from localdev.grpc.build import build

    iterations, rounds, per_round = (200, 2, 50) if args.quick else (20000, 10, 500)
    descriptors = build()
    body = json.dumps(PAYLOAD).encode()
    only_grpc, only_json = transcoding_only(descriptors.read_bytes(), body, iterations)
    with tempfile.TemporaryDirectory() as tmp, upstreams(Path(tmp)) as (grpc_target, http_url):
        config = Path(tmp) / "routes.yaml"
        config.write_text(CONFIG.format(descriptors=descriptors, grpc=grpc_target, http=http_url))
        edge = through_edge(config, body, rounds, per_round)
    g, h = edge["grpc"], edge["http"]
    rows = [
        (f"payload: {len(body)} bytes of JSON, echoed back", "", ""),
        ("transcode only: json.loads + json.dumps (baseline)", f"{only_json:.1f} us", "1.00x"),
        (
            "transcode only: JSON -> proto -> bytes -> proto -> JSON",
            f"{only_grpc:.1f} us",
            f"{only_grpc / only_json:.2f}x",
        ),
        ("edge CPU per request: http upstream (baseline)", f"{h['cpu']:.1f} us", "1.00x"),
        ("edge CPU per request: grpc upstream", f"{g['cpu']:.1f} us", f"{g['cpu'] / h['cpu']:.2f}x"),
        ("wall p50 per request: http upstream (baseline)", f"{h['p50']:.1f} us", "1.00x"),
        ("wall p50 per request: grpc upstream", f"{g['p50']:.1f} us", f"{g['p50'] / h['p50']:.2f}x"),
        ("wall p99: http / grpc", f"{h['p99']:.0f} / {g['p99']:.0f} us", f"{g['p99'] / h['p99']:.2f}x"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'value':>16}  ratio")
    for name, value, ratio in rows:
        print(f"{name.ljust(width)}  {value:>16}  {ratio}")


if __name__ == "__main__":
    main()
