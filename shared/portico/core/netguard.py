"""Refuses upstream destinations that would reach instance metadata, link-local or loopback addresses (SSRF).

Addresses are parsed the way resolvers and `inet_aton` accept them, so `2852039166`, `0xA9FEA9FE`,
`0251.0376.0251.0376`, `169.254.43518` and `[::ffff:169.254.169.254]` are all recognised as 169.254.169.254.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

_ALWAYS_BLOCKED = (
    ipaddress.ip_network("169.254.0.0/16"),  # link-local, EC2 IMDS (169.254.169.254), ECS task metadata (169.254.170.2)
    ipaddress.ip_network("0.0.0.0/8"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("fd00:ec2::/32"),  # EC2 IMDS over IPv6 (fd00:ec2::254)
    ipaddress.ip_network("::/128"),
    ipaddress.ip_network("100.100.100.200/32"),  # other clouds' metadata services, refused alike
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
_BLOCKED_NAMES = ("metadata", "metadata.google.internal", "instance-data", "instance-data.ec2.internal")
_LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


class ForbiddenDestination(ValueError):
    """An upstream address that policy refuses; the message says why."""


def _legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """Parse `inet_aton`-style IPv4: 1 to 4 parts, each decimal, 0x-hex or 0-octal."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or any(p == "" for p in parts):
        return None
    values: list[int] = []
    for part in parts:
        text = part.lower()
        try:
            if text.startswith("0x"):
                values.append(int(text[2:] or "0", 16))
            elif len(text) > 1 and text.startswith("0"):
                values.append(int(text, 8))
            else:
                values.append(int(text, 10))
        except ValueError:
            return None
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (5 - len(values)):
        return None
    number = 0
    for v in head:
        number = number * 256 + v
    number = number * 256 ** (4 - len(head)) + last
    return ipaddress.IPv4Address(number)


def parse_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host literal denotes, in any spelling, or None when it is a name."""
    text = host.strip("[]").rstrip(".")
    if "%" in text:  # an IPv6 zone id: the address part decides
        text = text.split("%", 1)[0]
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return _legacy_ipv4(text)
    if isinstance(addr, ipaddress.IPv6Address):
        embedded = addr.ipv4_mapped or addr.sixtofour
        if embedded is not None:
            return embedded
        if addr.packed[:12] == bytes(12) and int(addr) > 1:  # deprecated IPv4-compatible form ::a.b.c.d
            return ipaddress.IPv4Address(addr.packed[12:])
        if addr in _NAT64:
            return ipaddress.IPv4Address(addr.packed[12:])  # NAT64 well-known prefix
    return addr


LOOPBACK_HINT = "local development allows it with PORTICO_ALLOW_LOOPBACK_UPSTREAMS=true"


def check_address(addr: ipaddress.IPv4Address | ipaddress.IPv6Address, *, allow_loopback: bool = False) -> None:
    """Raise ForbiddenDestination for metadata, link-local, unspecified or (unless allowed) loopback addresses."""
    for net in _ALWAYS_BLOCKED:
        if addr.version == net.version and addr in net:
            raise ForbiddenDestination(f"{addr} is a link-local, metadata or unspecified address ({net})")
    if not allow_loopback:
        for net in _LOOPBACK:
            if addr.version == net.version and addr in net:
                raise ForbiddenDestination(f"{addr} is a loopback address; {LOOPBACK_HINT}")


def check_host(host: str, *, allow_loopback: bool = False) -> None:
    """Check a host as written in config: IP literals in any spelling, and the well-known local and metadata names."""
    name = host.strip("[]").rstrip(".").lower()
    if not name:
        raise ForbiddenDestination("the URL has no host")
    addr = parse_ip(name)
    if addr is not None:
        check_address(addr, allow_loopback=allow_loopback)
        return
    if "%" in name or "\\" in name:
        raise ForbiddenDestination(f"host {host!r} contains characters a host name cannot have")
    if name in _BLOCKED_NAMES:
        raise ForbiddenDestination(f"{host} is a cloud metadata host name")
    if not allow_loopback and (name in _LOOPBACK_NAMES or name.endswith(".localhost")):
        raise ForbiddenDestination(f"{host} names the loopback interface; {LOOPBACK_HINT}")


def check_upstream_url(url: str, *, allow_loopback: bool = False, schemes: tuple[str, ...] = ("http", "https")) -> None:
    """Validate an upstream URL from config; raise ForbiddenDestination with the reason when refused."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise ForbiddenDestination(f"malformed URL: {exc}") from exc
    if parts.scheme not in schemes:
        raise ForbiddenDestination(f"scheme must be one of {', '.join(schemes)}, not {parts.scheme or 'none'!r}")
    if "@" in parts.netloc:
        raise ForbiddenDestination(
            "URLs with userinfo (user@host) are refused: credentials do not belong in config URLs"
        )
    check_host(parts.hostname or "", allow_loopback=allow_loopback)
