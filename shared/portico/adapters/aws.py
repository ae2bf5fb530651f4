"""Builds boto3 clients that honour AWS_ENDPOINT_URL and LocalStack's conventions, for every AWS call Portico makes."""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
import botocore.session
from botocore.config import Config

_DEFAULT_REGION = "us-east-1"
_loaders: dict[str, Any] = {}  # data path -> botocore Loader, shared by every session of this process
_loaders_lock = threading.Lock()


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
    return _session().client(
        service,  # type: ignore[call-overload]
        region_name=region,
        endpoint_url=endpoint_url(),
        config=Config(**cfg) if cfg else None,
    )


def _session() -> boto3.session.Session:
    """A new session (credentials, region and profile are read afresh, as before) with the process's shared loader.

    Each session otherwise parses botocore's endpoints.json and the service model again: ~8 MiB per client, which
    is most of what the sidecar's second client (acm-pca) used to cost. A Loader only caches parsed JSON files.
    """
    core = botocore.session.get_session()
    key = str(core.get_config_variable("data_path") or "")
    with _loaders_lock:
        loader = _loaders.setdefault(key, core.get_component("data_loader"))
        core.register_component("data_loader", loader)
        session = boto3.session.Session(botocore_session=core)
        # boto3 appends its own data folder to the loader's search path for every session: keep each folder once.
        loader.search_paths[:] = list(dict.fromkeys(loader.search_paths))
    return session


def table_names(env: dict[str, str] | None = None) -> dict[str, str]:
    """Table names from PORTICO_*_TABLE, with the local defaults."""
    env = dict(os.environ) if env is None else env
    return {
        "config": env.get("PORTICO_CONFIG_TABLE", "portico-config"),
        "quota": env.get("PORTICO_QUOTA_TABLE", "portico-quota"),
        "registry": env.get("PORTICO_REGISTRY_TABLE", "portico-registry"),
    }
