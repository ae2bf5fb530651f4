"""The SNI of a TLS ClientHello, read from the first bytes of a connection without decrypting anything.

Bounded: a ClientHello larger than MAX_HELLO bytes, or bytes that are not a handshake record, end the search
(`NOT_TLS`); too few bytes so far answer `MORE` so the caller reads on (up to MAX_HELLO).
"""

from __future__ import annotations

from typing import Final

MAX_HELLO: Final = 16 * 1024
MORE: Final = "more"  # sentinel: read more bytes
NOT_TLS: Final = "not-tls"  # sentinel: not a ClientHello (or one that does not parse)


def sni_of(data: bytes) -> str | None:
    """The server name, None for a ClientHello without one, or MORE / NOT_TLS."""
    if len(data) < 5:
        return MORE if len(data) == 0 or data[0] == 0x16 else NOT_TLS
    if data[0] != 0x16 or data[1] != 0x03:
        return NOT_TLS
    record_len = int.from_bytes(data[3:5], "big")
    # a hello may span several records in theory; Portico reads the first record only (all real clients fit)
    if record_len > MAX_HELLO:
        return NOT_TLS
    if len(data) < 5 + record_len:
        return MORE
    return _hello(data[5 : 5 + record_len])


def _hello(body: bytes) -> str | None:
    try:
        if body[0] != 0x01:  # ClientHello
            return NOT_TLS
        at = 4 + 2 + 32  # handshake header, legacy_version, random
        at += 1 + body[at]  # session id
        at += 2 + int.from_bytes(body[at : at + 2], "big")  # cipher suites
        at += 1 + body[at]  # compression methods
        if at == len(body):
            return None  # no extensions
        end = at + 2 + int.from_bytes(body[at : at + 2], "big")
        at += 2
        while at + 4 <= end:
            kind = int.from_bytes(body[at : at + 2], "big")
            size = int.from_bytes(body[at + 2 : at + 4], "big")
            at += 4
            if kind == 0:  # server_name: list length, then (type, length, name) entries
                inner = body[at + 2 : at + size]
                if len(inner) >= 3 and inner[0] == 0:
                    length = int.from_bytes(inner[1:3], "big")
                    name = inner[3 : 3 + length]
                    if len(name) == length and name.isascii():
                        return name.decode("ascii").lower()
                return NOT_TLS
            at += size
        return None
    except IndexError:
        return NOT_TLS
