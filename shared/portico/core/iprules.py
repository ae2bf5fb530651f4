"""IP allow/deny rules and the client address they judge: API Gateway's source IP, or behind trusted proxies
the first untrusted address of X-Forwarded-For counted from the right.

A client can write anything into X-Forwarded-For; only hops added by proxies we trust can be believed, and each
trusted proxy appends the address it saw. Walking from the right and skipping trusted hops therefore stops at the
last address someone we trust vouched for. Without trusted proxies the header is never read.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# (version, network as an integer, netmask as an integer): `address & mask == network` is the whole membership test
_Table = tuple[tuple[int, int, int], ...]


# four octets in canonical decimal (no leading zero, at most 255), each captured
_DOTTED_QUAD = re.compile(
    r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
    r"\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
)


def _dotted_quad(text: str) -> int | None:
    """The common case, `a.b.c.d` in canonical decimal, as an integer, without ipaddress's general parser.

    Anything else (leading zeros, which ipaddress refuses as ambiguous; ports; IPv6) returns None and takes the
    general path, so this never accepts what ipaddress would refuse.
    """
    found = _DOTTED_QUAD.fullmatch(text)
    if found is None:
        return None
    a, b, c, d = found.groups()
    return int(a) << 24 | int(b) << 16 | int(c) << 8 | int(d)


def parse_address(text: str) -> IpAddress | None:
    """An address as a peer or a forwarded-for hop writes it; IPv4-mapped IPv6 is read as the IPv4 it carries."""
    quad = _dotted_quad(text)
    if quad is not None:
        return ipaddress.IPv4Address(quad)
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


def _table(networks: Sequence[IpNetwork]) -> _Table:
    return tuple((net.version, int(net.network_address), int(net.netmask)) for net in networks)


def _listed(version: int, value: int, table: _Table) -> bool:
    # a plain loop, not any(<generator>): this runs per request, and the generator costs more than a short table
    for net_version, network, mask in table:  # noqa: SIM110
        if net_version == version and value & mask == network:
            return True
    return False


@dataclass(frozen=True, slots=True)
class IpRuleSet:
    """Deny wins; a non-empty allow list admits only what it lists. An unreadable address is refused.

    The networks are compiled once to integer tables, so a check is a few integer operations per listed network,
    never ipaddress's object comparisons: a refusal must stay cheaper than the work it saves (docs/protection.md).
    """

    allow: tuple[IpNetwork, ...] = ()
    deny: tuple[IpNetwork, ...] = ()
    _allow: _Table = field(init=False, repr=False, compare=False)
    _deny: _Table = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_allow", _table(self.allow))
        object.__setattr__(self, "_deny", _table(self.deny))

    def admits(self, address: IpAddress | None) -> bool:
        if address is None:
            return False
        return self._admits(address.version, int(address))

    def admits_source(self, text: str) -> bool:
        """`admits(parse_address(text))`, without building an address object for a plain IPv4 source."""
        quad = _dotted_quad(text)
        if quad is not None:
            return self._admits(4, quad)
        return self.admits(parse_address(text))

    def _admits(self, version: int, value: int) -> bool:
        if self._deny and _listed(version, value, self._deny):
            return False
        return not self._allow or _listed(version, value, self._allow)

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
