"""Fixtures for the mesh-identity functional tests: the local root CA on the session's local AWS endpoint."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def pca(local_aws: str) -> Any:
    from portico.adapters.aws import client

    return client("acm-pca")


@pytest.fixture(scope="session")
def root_ca(pca: Any) -> str:
    from localdev.dev.ca import ensure_root_ca

    return ensure_root_ca(pca)
