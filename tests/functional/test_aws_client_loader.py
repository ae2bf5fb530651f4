"""Clients share one botocore data loader (parsed endpoints and models once per process) yet keep fresh settings."""

from __future__ import annotations

import pytest

from portico.adapters import aws


def test_clients_share_one_loader_and_its_search_path_stays_bounded() -> None:
    first = aws.client("dynamodb")
    paths = list(first._loader.search_paths)
    for _ in range(5):
        other = aws.client("acm-pca")
    assert other._loader is first._loader
    assert list(first._loader.search_paths) == paths  # boto3 adds its data folder per session: kept once


def test_each_client_still_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert aws.client("dynamodb").meta.region_name == "eu-west-1"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:2")
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    later = aws.client("dynamodb")
    assert later.meta.region_name == "eu-central-1" and later.meta.endpoint_url == "http://127.0.0.1:2"
