"""portico.adapters.aws picks the endpoint: AWS_ENDPOINT_URL, then LocalStack's LOCALSTACK_HOST, else AWS."""

from __future__ import annotations

import pytest

from portico.adapters.aws import endpoint_url, table_names


def test_real_aws_when_nothing_is_set() -> None:
    assert endpoint_url({}) is None


def test_aws_endpoint_url_is_used_as_given() -> None:
    assert endpoint_url({"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}) == "http://127.0.0.1:4566"


def test_aws_endpoint_url_wins_over_localstack_host() -> None:
    env = {"AWS_ENDPOINT_URL": "http://moto:5000", "LOCALSTACK_HOST": "localstack:4566"}
    assert endpoint_url(env) == "http://moto:5000"


@pytest.mark.parametrize(
    ("localstack_host", "expected"),
    [
        ("localhost.localstack.cloud:4566", "http://localhost.localstack.cloud:4566"),
        ("localstack", "http://localstack:4566"),  # LocalStack's default edge port when none is given
        ("127.0.0.1:4510", "http://127.0.0.1:4510"),
    ],
)
def test_localstack_host(localstack_host: str, expected: str) -> None:
    assert endpoint_url({"LOCALSTACK_HOST": localstack_host}) == expected


def test_empty_values_count_as_unset() -> None:
    assert endpoint_url({"AWS_ENDPOINT_URL": "", "LOCALSTACK_HOST": ""}) is None


def test_table_names_come_from_environment() -> None:
    names = table_names({"PORTICO_CONFIG_TABLE": "c", "PORTICO_QUOTA_TABLE": "q", "PORTICO_REGISTRY_TABLE": "r"})
    assert names == {"config": "c", "quota": "q", "registry": "r"}
