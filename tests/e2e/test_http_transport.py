"""The http transport against real sockets: connect-time address checks with an injected resolver, pooling."""

from __future__ import annotations

import asyncio

import pytest

from localdev.demo.echo import make_app
from localdev.httpserver import start
from portico.adapters.http_transport import HttpTransport
from portico.core.headers import Headers
from portico.core.http import Request
from portico.core.ports import UpstreamRefused

pytestmark = pytest.mark.e2e


def test_name_resolving_to_metadata_is_refused_at_connect_time() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ["169.254.169.254"]  # what a hostile DNS answer for an innocent-looking name would be

    async def go() -> None:
        transport = HttpTransport(allow_loopback=True, resolver=resolver)
        with pytest.raises(UpstreamRefused):
            await transport.send(Request("GET", "/", headers=Headers([("host", "x")])), "http://innocent.test/", 2)

    asyncio.run(go())


def test_loopback_needs_the_dev_allowance_and_connections_are_reused() -> None:
    async def go() -> None:
        server = await start(make_app("t"), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]

        async def resolver(host: str, p: int) -> list[str]:
            return ["127.0.0.1"]

        url = f"http://svc.test:{port}/x"
        strict = HttpTransport(resolver=resolver)
        with pytest.raises(UpstreamRefused):
            await strict.send(Request("GET", "/x", headers=Headers([("host", "svc.test")])), url, 2)
        dev = HttpTransport(allow_loopback=True, resolver=resolver)
        for _ in range(3):
            resp = await dev.send(Request("GET", "/x", headers=Headers([("host", "svc.test")])), url, 2)
            assert resp.status == 200
        pooled = dev._idle[("http", "svc.test", port)]
        assert len(pooled) == 1  # one pooled connection served all three
        pooled[0].close()
        server.close()
        await server.wait_closed()

    asyncio.run(go())
