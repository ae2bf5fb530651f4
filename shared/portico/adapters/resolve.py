"""Resolves an upstream host and keeps only the addresses SSRF policy allows, for every transport that dials out.

Callers connect to the returned addresses themselves, so a second lookup cannot rebind the name to a refused one.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

from portico.core.netguard import ForbiddenDestination, check_address, parse_ip
from portico.core.ports import UpstreamConnectError, UpstreamRefused

Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def checked_addresses(host: str, port: int, resolve: Resolver, *, allow_loopback: bool) -> list[str]:
    """The allowed addresses of `host`; UpstreamConnectError if it does not resolve, UpstreamRefused if none pass."""
    literal = parse_ip(host)
    try:
        addresses = [str(literal)] if literal is not None else await resolve(host, port)
    except OSError as exc:
        raise UpstreamConnectError(f"cannot resolve {host}: {exc}") from None
    allowed: list[str] = []
    refusal = ""
    for address in addresses:
        ip = parse_ip(address)
        try:
            if ip is None:
                raise ForbiddenDestination(f"{address} is not an IP address")
            check_address(ip, allow_loopback=allow_loopback)
            allowed.append(str(ip))
        except ForbiddenDestination as exc:
            refusal = str(exc)
    if not allowed:
        raise UpstreamRefused(f"{host} resolves only to refused addresses: {refusal or 'none found'}")
    return allowed
