"""Unit tests run with the network switched off: any connect, bind, send or DNS lookup fails the test."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any, NoReturn

import pytest


class SocketBlockedError(RuntimeError):
    """A unit test tried to use the network; it belongs in tests/functional or tests/e2e."""


def _blocked(*args: Any, **kwargs: Any) -> NoReturn:
    raise SocketBlockedError("network access in a unit test; use a fake, or move the test to functional/e2e")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Creating sockets stays allowed: asyncio's event loop needs a socketpair for its self-pipe. Every way
    # out of the process (connect, bind, send to an address, name lookup) is blocked.
    for name in ("connect", "connect_ex", "bind", "sendto", "sendmsg"):
        monkeypatch.setattr(socket.socket, name, _blocked)
    for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "create_connection", "create_server"):
        monkeypatch.setattr(socket, name, _blocked)
    yield
