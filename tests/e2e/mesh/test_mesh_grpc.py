"""Issue 15, acceptance 1: a real grpcio client calls real grpcio servers through two sidecars over mTLS.

Client app -> h2c -> outbound sidecar -> HTTP/2 over mTLS (ALPN h2) -> inbound sidecar -> h2c -> grpcio server.
All four call kinds, large messages, a 90/10 split, UNAVAILABLE retried onto another instance, a 200 ms deadline
against a slow server, and an AuthorizationPolicy deny that the app never sees.
"""

from __future__ import annotations

import json
import queue
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest

from tests.e2e.mesh.conftest import Instance, Mesh
from tests.e2e.mesh.grpc_apps import EchoServer, channel, method

pytestmark = pytest.mark.e2e

CONFIG = """
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: echo}
spec:
  hosts: [echo]
  http:
    - name: who-canary
      match: [{uri: {exact: /demo.Echo/Who}, headers: {x-canary: {exact: "1"}}}]
      route: [{destination: {host: echo, subset: v2}}]
    - name: who-split
      match: [{uri: {exact: /demo.Echo/Who}}]
      route:
        - {destination: {host: echo, subset: v1}, weight: 90}
        - {destination: {host: echo, subset: v2}, weight: 10}
    - name: flaky
      match: [{uri: {prefix: /demo.Echo/Flaky}}]
      retries: {attempts: 2, retryOn: unavailable}
      route: [{destination: {host: echo}}]
    - name: fault
      match: [{uri: {exact: /demo.Echo/Faulty}}]
      fault: {abort: {grpcStatus: RESOURCE_EXHAUSTED}}
      route: [{destination: {host: echo, subset: v1}}]
    - name: rest
      route: [{destination: {host: echo, subset: v1}}]
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: echo}
spec:
  host: echo
  subsets:
    - {name: v1, labels: {version: v1}}
    - {name: v2, labels: {version: v2}}
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: vault-deny-client}
spec:
  selector: {matchLabels: {app: vault}}
  action: DENY
  rules:
    - from: [{source: {principals: [cluster.local/ns/default/sa/client]}}]
"""


@dataclass
class GrpcMesh:
    mesh: Mesh
    client: Instance
    v1: EchoServer
    v2: EchoServer
    vault: EchoServer


@pytest.fixture(scope="module")
def gmesh(module_mesh: Mesh) -> Iterator[GrpcMesh]:
    mesh = module_mesh
    mesh.config(CONFIG)
    v1 = EchoServer("v1")
    v2 = EchoServer("v2", fail_with=grpc.StatusCode.UNAVAILABLE)
    vault = EchoServer("vault")
    grpc_app = {"PORTICO_APP_PROTOCOL": "grpc"}
    try:
        for server, service, version in ((v1, "echo", "v1"), (v2, "echo", "v2"), (vault, "vault", "v1")):
            inst = Instance(f"{service}-{version}", server.port, *_ports())
            mesh.start(service, version=version, app=False, env=grpc_app, reuse=inst, wait=False)
            mesh.instances.append(inst)
        for inst in mesh.instances:
            mesh.wait_ready(inst)
        mesh.start("web")  # an HTTP/1.1 app (localdev.demo.app): HTTP/2 callers reach it too
        client = mesh.start("client", app=False)
        mesh.wait_for(client, "echo", 2)
        mesh.wait_for(client, "vault", 1)
        mesh.wait_for(client, "web", 1)
        yield GrpcMesh(mesh, client, v1, v2, vault)
    finally:
        for s in (v1, v2, vault):
            s.stop()


def _ports() -> tuple[int, int, int]:
    from tests.e2e.mesh.conftest import free_port

    return free_port(), free_port(), free_port()


def test_four_call_kinds_and_large_messages(gmesh: GrpcMesh) -> None:
    with channel(gmesh.client.outbound, "echo") as ch:
        assert method(ch, "Unary")(b"hello", timeout=5) == b"hello"
        big = bytes(range(256)) * (4 * 1024 * 16)  # 16 MiB: many DATA frames, windows opened many times over
        assert method(ch, "Unary")(big, timeout=20) == big
        assert method(ch, "Collect", "stream_unary")(iter([b"a", b"b", b"c"]), timeout=5) == b"a|b|c"
        assert list(method(ch, "Spray", "unary_stream")(b"4", timeout=5)) == [
            b"part-0",
            b"part-1",
            b"part-2",
            b"part-3",
        ]
        replies = list(method(ch, "Chat", "stream_stream")(iter([b"x", b"y"]), timeout=5))
        assert replies == [b"re:x", b"re:y"]
        # ping-pong: each message waits for the previous answer, so both directions stay open and interleave
        answered: queue.Queue[bytes] = queue.Queue()

        def pings() -> Iterator[bytes]:
            for i in range(5):
                yield f"ping-{i}".encode()
                assert answered.get(timeout=5) == f"re:ping-{i}".encode()

        for reply in method(ch, "Chat", "stream_stream")(pings(), timeout=10):
            answered.put(reply)
        assert answered.qsize() == 0


def test_split_90_10_over_2000_calls(gmesh: GrpcMesh) -> None:
    seen: Counter[bytes] = Counter()
    with channel(gmesh.client.outbound, "echo") as ch:
        who = method(ch, "Who")
        futures = []
        for _ in range(2000):
            futures.append(who.future(b"", timeout=10))
            if len(futures) >= 32:
                seen.update(f.result() for f in futures)
                futures.clear()
        seen.update(f.result() for f in futures)
    share = seen[b"v2"] / 2000
    print(f"90/10 split over 2000 gRPC calls: v2 share {share:.4f}")
    assert seen[b"v1"] + seen[b"v2"] == 2000
    assert abs(share - 0.10) <= 0.02, share


def test_unavailable_is_retried_on_another_instance(gmesh: GrpcMesh) -> None:
    before = gmesh.v2.calls["Flaky"]
    with channel(gmesh.client.outbound, "echo") as ch:
        flaky = method(ch, "Flaky")
        answers = Counter(flaky(b"", timeout=5) for _ in range(40))
    assert answers == {b"v1": 40}  # every call succeeded on v1
    assert gmesh.v2.calls["Flaky"] > before  # though v2 answered UNAVAILABLE to some first tries
    assert gmesh.client.counter("portico_upstream_retries_total") > 0


def test_deadline_against_a_slow_server(gmesh: GrpcMesh) -> None:
    with channel(gmesh.client.outbound, "echo") as ch:
        slow = method(ch, "Slow")
        method(ch, "Unary")(b"warm", timeout=5)
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as err:
            slow(b"", timeout=0.2)
        elapsed = time.monotonic() - started
    print(f"200 ms deadline against a slow server: {err.value.code()} after {elapsed:.3f}s")
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED, (err.value.code(), err.value.details(), elapsed)
    assert 0.2 <= elapsed <= 0.5, elapsed
    # the cancellation travelled as RST_STREAM through both sidecars: the app's call ended long before its 3 s
    deadline = time.monotonic() + 3
    while not gmesh.v1.slow_lasted and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gmesh.v1.slow_lasted and gmesh.v1.slow_lasted[-1] < 1.5, gmesh.v1.slow_lasted


def test_authorization_deny_is_permission_denied_and_never_reaches_the_app(gmesh: GrpcMesh) -> None:
    with channel(gmesh.client.outbound, "vault") as ch, pytest.raises(grpc.RpcError) as err:
        method(ch, "Unary")(b"secret", timeout=5)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "RBAC" in (err.value.details() or "")
    assert sum(gmesh.vault.calls.values()) == 0


def test_fault_injection_by_grpc_status(gmesh: GrpcMesh) -> None:
    with channel(gmesh.client.outbound, "echo") as ch, pytest.raises(grpc.RpcError) as err:
        method(ch, "Faulty")(b"", timeout=5)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "Faulty" not in gmesh.v1.calls


def test_grpc_metadata_matches_a_route(gmesh: GrpcMesh) -> None:
    with channel(gmesh.client.outbound, "echo") as ch:
        who = method(ch, "Who")
        answers = Counter(who(b"", timeout=5, metadata=(("x-canary", "1"),)) for _ in range(20))
    assert answers == {b"v2": 20}


def test_an_http2_caller_reaches_an_http1_app_over_mtls(gmesh: GrpcMesh) -> None:
    """h2c prior knowledge from the caller, h2 between the sidecars, HTTP/1.1 to an app declared as nothing."""
    run = subprocess.run(
        [
            "curl",
            "-s",
            "--http2-prior-knowledge",
            "-H",
            "Host: web",
            "-d",
            "hello",
            "-w",
            "\n%{http_version}",
            f"http://127.0.0.1:{gmesh.client.outbound}/headers",
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    body, _, version = run.stdout.rpartition("\n")
    assert version == "2", run.stdout
    seen = {k.lower(): v for k, v in json.loads(body)["headers"]}
    assert seen["x-portico-peer"] == "spiffe://cluster.local/ns/default/sa/client"  # the verified caller, via mTLS
    assert seen["content-length"] == "5"  # the HTTP/2 body was buffered into an HTTP/1.1 request
