"""IP allow/deny rules and the client address they judge: API Gateway's source IP, or behind trusted proxies
the first untrusted address of X-Forwarded-For counted from the right.

A client can write anything into X-Forwarded-For; only hops added by proxies we trust can be believed, and each
trusted proxy appends the address it saw. Walking from the right and skipping trusted hops therefore stops at the
last address someone we trust vouched for. Without trusted proxies the header is never read.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_address(text: str) -> IpAddress | None:
    """An address as a peer or a forwarded-for hop writes it; IPv4-mapped IPv6 is read as the IPv4 it carries."""
    value = text.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _within(address: IpAddress, networks: Sequence[IpNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


@dataclass(frozen=True, slots=True)
class IpRuleSet:
    """Deny wins; a non-empty allow list admits only what it lists. An unreadable address is refused."""

    allow: tuple[IpNetwork, ...] = ()
    deny: tuple[IpNetwork, ...] = ()

    def admits(self, address: IpAddress | None) -> bool:
        if address is None:
            return False
        if _within(address, self.deny):
            return False
        return not self.allow or _within(address, self.allow)

    @property
    def empty(self) -> bool:
        return not self.allow and not self.deny


def client_address(source_ip: str, forwarded_for: str | None, trusted: Sequence[IpNetwork]) -> IpAddress | None:
    """The address the rules judge: `source_ip` unless it is a trusted proxy, then X-Forwarded-For from the right."""
    address = parse_address(source_ip)
    if address is None or not trusted or not _within(address, trusted) or not forwarded_for:
        return address
    for hop in reversed(forwarded_for.split(",")):
        hop_address = parse_address(hop)
        if hop_address is None:
            return None  # a hop no proxy would write: refuse rather than guess
        if not _within(hop_address, trusted):
            return hop_address
        address = hop_address
    return address
