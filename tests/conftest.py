"""Shared fixtures: a session-wide local AWS endpoint and per-test DynamoDB tables created from template.yaml.

Fixtures import localdev/boto3 only when a test asks for them, so tests/unit never starts a server.
Set PORTICO_TEST_AWS_ENDPOINT (e.g. http://localhost:4566 for LocalStack) to run against an existing endpoint.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def local_aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a local AWS endpoint; os.environ points every AWS client at it for the session."""
    from localdev import aws

    external = os.environ.get("PORTICO_TEST_AWS_ENDPOINT")
    if external:
        handle = aws.LocalAws(url=external, process=None)
    else:
        log_path = tmp_path_factory.mktemp("local-aws") / "local-aws.log"
        handle = aws.start(0, log_path)  # a free port: never 4566, which a developer's `dev up` may hold
    saved = dict(os.environ)
    _replace_environ(aws.local_env(handle.url, saved))
    try:
        yield handle.url
    finally:
        _replace_environ(saved)
        aws.stop(handle)


@pytest.fixture
def dynamodb(local_aws: str) -> Any:
    """A DynamoDB client built the way the product builds them (portico.adapters.aws.client)."""
    from portico.adapters.aws import client

    return client("dynamodb")


@pytest.fixture
def tables(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Fresh, uniquely named config/quota/registry tables from template.yaml; PORTICO_*_TABLE name them."""
    from localdev.tables import create_tables

    suffix = uuid.uuid4().hex[:12]
    names = {role: f"portico-{role}-{suffix}" for role in ("config", "quota", "registry")}
    for role, name in names.items():
        monkeypatch.setenv(f"PORTICO_{role.upper()}_TABLE", name)
    try:
        create_tables(dynamodb, names)
        yield names
    finally:
        for name in names.values():
            with contextlib.suppress(dynamodb.exceptions.ResourceNotFoundException):
                dynamodb.delete_table(TableName=name)


def _replace_environ(target: dict[str, str]) -> None:
    """Make os.environ equal `target` key by key (never empty in between, unlike clear() + update())."""
    for key in [k for k in os.environ if k not in target]:
        del os.environ[key]
    for key, value in target.items():
        if os.environ.get(key) != value:
            os.environ[key] = value
