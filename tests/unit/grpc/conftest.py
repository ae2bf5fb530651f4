"""The demo descriptor set, compiled once per session in-process by grpcio-tools (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from localdev.grpc.build import build


@pytest.fixture(scope="session")
def descriptor_path() -> Path:
    return build()


@pytest.fixture(scope="session")
def descriptor_bytes(descriptor_path: Path) -> bytes:
    return descriptor_path.read_bytes()
