"""A paused clock for the sidecar's data path, as tokio's `start_paused` or trio's autojump clock.

`PausedLoop` is a real asyncio loop whose time only moves when every task is waiting on a timer: then it jumps to
the next timer at once. Sleeps, per-try timeouts, backoff and ejection windows take no wall time, and the
outcome does not depend on how busy the machine is. `LoopClock` is the Clock port reading that time.

`Peers` stands in for the other sidecars with an in-process Transport double (the port the pooled HTTP/1 client
implements), so retries, limits and outliers run through the real engine, router and chain without sockets.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import selectors
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from portico.adapters.http1_client import ClientSettings
from portico.core.chain import Context, Handler
from portico.core.config.configset import ConfigSet
from portico.core.config.loader import parse_documents
from portico.core.headers import Headers
from portico.core.http import Request, Response
from portico.core.mesh.circuit import CircuitBreaker
from portico.core.mesh.registry import Instance
from portico.core.ports import UpstreamConnectError, UpstreamReset, UpstreamTimeout
from portico.core.telemetry.prometheus import Registry
from portico.mesh.attrs import CONN
from portico.mesh.discovery import Discovery
from portico.mesh.http1 import ConnInfo
from portico.mesh.outbound import outbound_chain
from portico.mesh.state import MeshState
from portico.mesh.telemetry import MeshTelemetry

T = TypeVar("T")
EPOCH = 1_800_000_000.0  # wall-clock seconds at loop time 0


class _JumpingSelector(selectors.SelectSelector):
    def __init__(self) -> None:
        super().__init__()
        self.loop: PausedLoop | None = None

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:  # no timer at all: only another thread (to_thread) can wake the loop
            return super().select(5.0)
        assert self.loop is not None
        self.loop.now += timeout  # every task waits on a timer: jump to the earliest
        return []


class PausedLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        selector = _JumpingSelector()
        super().__init__(selector)
        selector.loop = self
        self.now = 0.0

    def time(self) -> float:
        return self.now


def run_paused(main: Coroutine[Any, Any, T]) -> T:
    loop = PausedLoop()
    try:
        return loop.run_until_complete(main)
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


class LoopClock:
    """The Clock port on the paused loop's time."""

    def now(self) -> float:
        return EPOCH + asyncio.get_running_loop().time()

    def monotonic(self) -> float:
        return asyncio.get_running_loop().time()


Behaviour = Callable[[Request], Awaitable[Response]]


def reply(status: int, after: float = 0.0) -> Behaviour:
    async def answer(request: Request) -> Response:
        if after:
            await asyncio.sleep(after)
        body = {"status": status, "path": request.path, "attempt": request.headers.get("x-portico-attempt-count")}
        return Response(status, Headers([("content-type", "application/json")]), json.dumps(body).encode())

    return answer


async def refuse(request: Request) -> Response:
    raise UpstreamConnectError("connection refused")


async def reset(request: Request) -> Response:
    raise UpstreamReset("the upstream closed the connection mid-response")


@dataclass
class Peer:
    instance: Instance
    behaviour: Behaviour
    seen: list[Request] = field(default_factory=list)


@dataclass
class Peers:
    """The mesh around the sidecar under test: registered instances and how each answers."""

    by_origin: dict[str, Peer] = field(default_factory=dict)
    in_flight: int = 0
    peak: int = 0

    def add(self, service: str, name: str, behaviour: Behaviour, **labels: str) -> Peer:
        n = len(self.by_origin) + 1
        inst = Instance(service, name, f"10.0.0.{n}", 15443, labels, heartbeat=EPOCH + 1e9)
        peer = self.by_origin[f"http://{inst.authority}"] = Peer(inst, behaviour)
        return peer

    def hits(self, service: str) -> dict[str, int]:
        return {p.instance.instance_id: len(p.seen) for p in self.by_origin.values() if p.instance.service == service}

    # RegistryStore, read by Discovery
    def instances(self, service: str) -> list[Instance]:
        return [p.instance for p in self.by_origin.values() if p.instance.service == service]

    # TransportFactory: one double per cluster, as the sidecar makes one pooled client per cluster
    def transport(self, settings: ClientSettings, breaker: CircuitBreaker) -> PeerTransport:
        return PeerTransport(self, settings)


@dataclass
class PeerTransport:
    peers: Peers
    settings: ClientSettings

    async def send(self, request: Request, url: str, timeout: float | None) -> Response:
        origin, _, rest = url.partition("://")[2].partition("/")
        peer = self.peers.by_origin.get("http://" + origin)
        if peer is None:
            raise UpstreamConnectError(f"nothing at {origin}")
        copy = Request(request.method, "/" + rest, headers=request.headers.copy(), body=request.body)
        peer.seen.append(copy)
        self.peers.in_flight += 1
        self.peers.peak = max(self.peers.peak, self.peers.in_flight)
        try:
            async with asyncio.timeout(timeout):  # the Transport contract: a try ends at its timeout
                return await peer.behaviour(copy)
        except TimeoutError:
            raise UpstreamTimeout(f"no answer from {origin} within {timeout}s") from None
        finally:
            self.peers.in_flight -= 1

    def reap_idle(self, now: float) -> None:
        pass

    def retain(self, origins: set[str]) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass
class Outbound:
    """The sidecar's outbound chain (telemetry, hygiene, route, fault, mirror, router) on the paused clock."""

    handler: Handler
    state: MeshState
    stats: Registry
    clock: LoopClock

    async def call(self, method: str, path: str, host: str = "payments", body: bytes = b"") -> Response:
        req = Request(method, path, headers=Headers([("host", host)]), body=body, host=host)
        ctx = Context(request=req, now=self.clock.now(), attrs={CONN: ConnInfo(peer=("127.0.0.1", 50000))})
        return await self.handler(ctx)

    def counter(self, name: str) -> float:
        return self.stats.total(name)


async def outbound(peers: Peers, config: str, services: Sequence[str] = ("payments",), seed: int = 7) -> Outbound:
    clock = LoopClock()
    stats = Registry()
    discovery = Discovery(peers, clock, stale_after=15.0, refresh_interval=2.0)
    state = MeshState(discovery, stats, clock, transport=peers.transport)
    docs, issues = parse_documents(config) if config.strip() else ([], [])
    assert not issues, issues
    state.apply(ConfigSet.of(docs), 1)
    for service in services:  # first registry reads run on a thread: done before any timer is pending
        await discovery.instances(service)
    telemetry = MeshTelemetry("orders", clock, os.urandom, registry=stats)
    return Outbound(outbound_chain(state, telemetry, random.Random(seed)), state, stats, clock)


def body(response: Response) -> dict[str, Any]:
    return dict(json.loads(response.body))
