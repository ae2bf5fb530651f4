"""Builds boto3 clients that honour AWS_ENDPOINT_URL and LocalStack's conventions (the edge, the CLI, local dev).

boto3 is imported on the first `client()` call, not with this module: the stores import this module, and the
sidecar, which gives them its own small clients (portico.adapters.aws_json), never loads boto3 at all.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from portico.adapters.aws_env import endpoint_url, region, table_names

if TYPE_CHECKING:
    import boto3

__all__ = ["client", "endpoint_url", "table_names"]

_loaders: dict[str, Any] = {}  # data path -> botocore Loader, shared by every session of this process
_loaders_lock = threading.Lock()


def client(service: str, *, timeout: float | None = None, retries: int | None = None, pool: int | None = None) -> Any:
    """A boto3 client for `service` with Portico's endpoint rules and optional tight timeouts for hot paths.

    `retries` is the total number of attempts (botocore standard mode); `pool` sizes the connection pool for
    clients shared by many threads.
    """
    from botocore.config import Config

    cfg: dict[str, Any] = {}
    if pool is not None:
        cfg["max_pool_connections"] = pool
    if timeout is not None:
        cfg["connect_timeout"] = timeout
        cfg["read_timeout"] = timeout
    if retries is not None:
        cfg["retries"] = {"max_attempts": retries, "mode": "standard"}
    return _session().client(
        service,  # type: ignore[call-overload]
        region_name=region(),
        endpoint_url=endpoint_url(),
        config=Config(**cfg) if cfg else None,
    )


def _session() -> boto3.session.Session:
    """A new session (credentials, region and profile are read afresh, as before) with the process's shared loader.

    Each session otherwise parses botocore's endpoints.json and the service model again: ~8 MiB per client, which
    is most of what the sidecar's second client (acm-pca) used to cost. A Loader only caches parsed JSON files.
    """
    import boto3
    import botocore.session

    core = botocore.session.get_session()
    key = str(core.get_config_variable("data_path") or "")
    with _loaders_lock:
        loader = _loaders.setdefault(key, core.get_component("data_loader"))
        core.register_component("data_loader", loader)
        session = boto3.session.Session(botocore_session=core)
        # boto3 appends its own data folder to the loader's search path for every session: keep each folder once.
        loader.search_paths[:] = list(dict.fromkeys(loader.search_paths))
    return session
