"""Builds boto3 clients that honour AWS_ENDPOINT_URL and LocalStack's conventions, for every AWS call Portico makes."""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.config import Config

_DEFAULT_REGION = "us-east-1"


def endpoint_url(env: dict[str, str] | None = None) -> str | None:
    """The endpoint every client uses: AWS_ENDPOINT_URL wins, then LOCALSTACK_HOST (host[:port]), else real AWS."""
    env = dict(os.environ) if env is None else env
    explicit = env.get("AWS_ENDPOINT_URL")
    if explicit:
        return explicit
    localstack = env.get("LOCALSTACK_HOST")
    if localstack:
        host = localstack if ":" in localstack else f"{localstack}:4566"
        return f"http://{host}"
    return None


def client(service: str, *, timeout: float | None = None, retries: int | None = None, pool: int | None = None) -> Any:
    """A boto3 client for `service` with Portico's endpoint rules and optional tight timeouts for hot paths.

    `retries` is the total number of attempts (botocore standard mode); `pool` sizes the connection pool for
    clients shared by many threads.
    """
    cfg: dict[str, Any] = {}
    if pool is not None:
        cfg["max_pool_connections"] = pool
    if timeout is not None:
        cfg["connect_timeout"] = timeout
        cfg["read_timeout"] = timeout
    if retries is not None:
        cfg["retries"] = {"max_attempts": retries, "mode": "standard"}
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or _DEFAULT_REGION
    return boto3.session.Session().client(
        service,  # type: ignore[call-overload]
        region_name=region,
        endpoint_url=endpoint_url(),
        config=Config(**cfg) if cfg else None,
    )


def table_names(env: dict[str, str] | None = None) -> dict[str, str]:
    """Table names from PORTICO_*_TABLE, with the local defaults."""
    env = dict(os.environ) if env is None else env
    return {
        "config": env.get("PORTICO_CONFIG_TABLE", "portico-config"),
        "quota": env.get("PORTICO_QUOTA_TABLE", "portico-quota"),
        "registry": env.get("PORTICO_REGISTRY_TABLE", "portico-registry"),
    }
