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


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to run against a compiled module older than its source (docs/native.md): CPython imports the
    extension in place of the .py, so an edit would go untested. `make install` rebuilds them."""
    from localdev import native

    stale = []
    for extension in native.built():
        source = extension.with_name(extension.name.split(".", 1)[0] + ".py")
        if source.is_file() and source.stat().st_mtime > extension.stat().st_mtime:
            stale.append(str(source.relative_to(native.PACKAGE_ROOT)))
    if stale:
        raise pytest.UsageError(
            f"compiled modules are older than their sources ({', '.join(sorted(stale))}): run `make install` to "
            "rebuild them, or `make install NATIVE=0` to run interpreted"
        )


@pytest.fixture(scope="session")
def local_aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a local AWS endpoint; os.environ points every AWS client at it for the session."""
    from localdev import aws

    # A free port, never 4566, which a developer's `portico dev up` may hold.
    log_path = tmp_path_factory.mktemp("local-aws") / "local-aws.log"
    with aws.serving(log_path, url=os.environ.get("PORTICO_TEST_AWS_ENDPOINT")) as url:
        yield url


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
