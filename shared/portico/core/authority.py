"""Host header / authority checks (RFC 9112 3.2, RFC 3986 3.2.2): one definition for every HTTP/1 listener.

A Host value is `host [":" port]` and nothing else: no userinfo (`a@b` is how a URL parser and a router come to
disagree about the destination), no path, no spaces. The host is a DNS-style name, an IPv4 address or a bracketed
IPv6 literal; the port is 1-5 digits up to 65535.
"""

from __future__ import annotations

import ipaddress
import re

# RFC 3986's reg-name narrowed to the characters host and service names use: sub-delims and %-escapes are legal
# there, but no real host needs them and each one is a way for two parsers to read one authority differently.
_NAME = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?")
_PORT = re.compile(r"[0-9]{1,5}")
MAX_HOST = 255


def invalid_host(value: str) -> str | None:
    """Why `value` is not an acceptable Host field value, or None when it is."""
    if not value or len(value) > MAX_HOST + 6:
        return "empty or overlong Host"
    host, port = _split(value)
    if host is None:
        return "malformed IPv6 literal in Host"
    if port is not None and (not _PORT.fullmatch(port) or not 0 < int(port) <= 65535):
        return "invalid port in Host"
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return "malformed IPv6 literal in Host"
        return None
    if len(host) > MAX_HOST or not _NAME.fullmatch(host):
        return "Host must be a host name or address with an optional port (no userinfo, path or spaces)"
    return None


def _split(value: str) -> tuple[str | None, str | None]:
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None, None
        rest = value[end + 1 :]
        if rest and not rest.startswith(":"):
            return None, None
        return value[: end + 1], (rest[1:] if rest else None)
    host, sep, port = value.rpartition(":")
    return (host, port) if sep else (value, None)
