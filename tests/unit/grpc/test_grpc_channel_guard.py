"""The gRPC channel cache checks resolved addresses against netguard before dialling (resolver faked: no network)."""

from __future__ import annotations

import asyncio

import pytest

from portico.adapters.grpc_channel import GrpcChannels
from portico.core.config.grpc import GrpcTls
from portico.core.ports import UpstreamRefused


def resolver_to(*addresses: str):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


@pytest.mark.parametrize(
    ("addresses", "allow_loopback"),
    [(("169.254.169.254",), True), (("::ffff:169.254.169.254",), True), (("127.0.0.1",), False)],
)
def test_a_name_resolving_to_a_refused_address_is_refused(addresses: tuple[str, ...], allow_loopback: bool) -> None:
    channels = GrpcChannels(allow_loopback=allow_loopback, resolver=resolver_to(*addresses))
    with pytest.raises(UpstreamRefused, match="resolves only to refused addresses"):
        asyncio.run(channels.unary("svc.internal:50051", GrpcTls(enabled=False), "/a.B/C", b"", 1.0, []))
