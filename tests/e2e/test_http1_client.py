"""The one HTTP/1 client against real sockets: connect-time address checks, pooling, and cluster-wide limits.

Issue 20 defect 7: with `maxConnections` below the number of hosts, a request to another host used to wait the
full connect timeout (10 s) for a waiter wake-up that only its own host's releases could give.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from localdev.demo.echo import make_app
from localdev.httpserver import start
from portico.adapters.http1_client import ClientSettings, Http1Client
from portico.core.headers import Headers
from portico.core.http import Request
from portico.core.mesh.circuit import CircuitBreaker, Limits
from portico.core.ports import UpstreamConnectError, UpstreamRefused

pytestmark = pytest.mark.e2e


def get(path: str, host: str = "svc.test") -> Request:
    return Request("GET", path, headers=Headers([("host", host)]))


def test_name_resolving_to_metadata_is_refused_at_connect_time() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ["169.254.169.254"]  # what a hostile DNS answer for an innocent-looking name would be

    async def go() -> None:
        client = Http1Client(ClientSettings(allow_loopback=True, resolver=resolver))
        with pytest.raises(UpstreamRefused):
            await client.send(get("/"), "http://innocent.test/", 2)
        with pytest.raises(UpstreamRefused):  # a mesh instance registered at a metadata address: the same
            await client.send(get("/"), "http://169.254.169.254:15443/", 2)

    asyncio.run(go())


def test_loopback_needs_the_dev_allowance_and_connections_are_reused() -> None:
    async def go() -> None:
        server = await start(make_app("t"), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]

        async def resolver(host: str, p: int) -> list[str]:
            return ["127.0.0.1"]

        url = f"http://svc.test:{port}/x"
        strict = Http1Client(ClientSettings(resolver=resolver))
        with pytest.raises(UpstreamRefused):
            await strict.send(get("/x"), url, 2)
        dev = Http1Client(ClientSettings(allow_loopback=True, resolver=resolver))
        for _ in range(3):
            assert (await dev.send(get("/x"), url, 2)).status == 200
        assert dev.open_connections == 1  # one pooled connection served all three
        dev.close()
        assert dev.open_connections == 0
        server.close()
        await server.wait_closed()

    asyncio.run(go())


def test_nothing_listening_is_a_connect_failure() -> None:
    async def go() -> None:
        client = Http1Client(ClientSettings(allow_loopback=True))
        with pytest.raises(UpstreamConnectError):
            await client.send(get("/"), "http://127.0.0.1:9/", 2)  # discard port: nothing listens

    asyncio.run(go())


def test_one_connection_for_two_hosts_serves_both_without_waiting() -> None:
    """maxConnections 1 across two hosts: one at a time, and concurrently (a release wakes the other host)."""

    async def go() -> None:
        servers = [await start(make_app(name), "127.0.0.1", 0) for name in ("a", "b")]
        urls = [f"http://127.0.0.1:{s.sockets[0].getsockname()[1]}/x" for s in servers]
        client = Http1Client(
            ClientSettings(allow_loopback=True, connect_timeout=10.0),
            CircuitBreaker(Limits(max_connections=1, max_pending=16)),
        )
        started = time.monotonic()
        for n in range(6):  # alternating hosts, one at a time: the idle connection to the other is given up
            assert (await client.send(get("/x"), urls[n % 2], 10)).status == 200
        sequential = time.monotonic() - started
        started = time.monotonic()
        replies = await asyncio.gather(*(client.send(get("/x"), urls[n % 2], 10) for n in range(10)))
        concurrent = time.monotonic() - started
        assert [r.status for r in replies] == [200] * 10
        assert client.open_connections <= 1
        assert sequential < 2.0 and concurrent < 2.0, (sequential, concurrent)  # not the 10 s connect timeout
        client.close()
        for s in servers:
            s.close()
            await s.wait_closed()

    asyncio.run(go())
