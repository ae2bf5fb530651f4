"""Which HTTP version a connection speaks, from its ALPN and its first bytes: the one question a listener asks.

Over TLS the client's ALPN choice decides (`h2` or `http/1.1`). Without ALPN (plaintext from the app, or a TLS
client that offered none) an HTTP/2 client with prior knowledge opens with the connection preface (RFC 9113 3.4);
anything else is HTTP/1.1, which cannot start with "PRI * HTTP/2.0".
"""

from __future__ import annotations

from typing import Literal

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
Speaks = Literal["h2", "http/1.1"]


def speaks(alpn: str | None, head: bytes) -> Speaks | None:
    """The protocol, or None while `head` is still a prefix of the preface (read more bytes first)."""
    if alpn == "h2":
        return "h2"
    if alpn == "http/1.1":
        return "http/1.1"
    if head.startswith(PREFACE):
        return "h2"
    if PREFACE.startswith(head):
        return None
    return "http/1.1"
