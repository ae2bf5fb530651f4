"""Host values (RFC 9112 3.2): host[:port] only; what every HTTP/1 listener refuses with 400."""

from __future__ import annotations

import pytest

from portico.core.authority import invalid_host

GOOD = ["payments", "payments:8080", "api.example.com", "api.example.com.", "127.0.0.1:1", "[::1]", "[::1]:443", "a_b"]
BAD = [
    "",
    "a@b",
    "user:pw@host",
    "host/path",
    "host?q",
    "host#f",
    "pay ments",
    "host:",
    "host:99999",
    "host:0",
    "host:8o",
    "[::1",
    "[zz]",
    "[::1]x",
    "a..b",
    "%61dmin",
    "a,b",
    "x" * 300,
]


@pytest.mark.parametrize("value", GOOD)
def test_accepted(value: str) -> None:
    assert invalid_host(value) is None


@pytest.mark.parametrize("value", BAD)
def test_refused_with_a_reason(value: str) -> None:
    assert invalid_host(value)
