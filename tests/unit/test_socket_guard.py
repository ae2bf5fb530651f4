"""The unit-test network guard really blocks the network and still lets asyncio run."""

from __future__ import annotations

import asyncio
import socket
import urllib.request

import pytest

# Matched by message: conftest is imported under a different module name than `tests.unit.conftest`.
BLOCKED = "network access in a unit test"


def test_connect_is_blocked() -> None:
    with socket.socket() as sock, pytest.raises(RuntimeError, match=BLOCKED):
        sock.connect(("127.0.0.1", 9))


def test_http_client_is_blocked() -> None:
    with pytest.raises(RuntimeError, match=BLOCKED):
        urllib.request.urlopen("http://127.0.0.1:9/", timeout=0.1)


def test_asyncio_event_loop_still_runs() -> None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    assert asyncio.run(answer()) == 42
