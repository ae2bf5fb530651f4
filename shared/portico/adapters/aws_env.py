"""Where AWS calls go: region, endpoint (AWS_ENDPOINT_URL, LocalStack conventions) and table names from the environment.

Kept free of boto3 so that the sidecar, which signs its few calls itself (portico.adapters.aws_json), and every
boto3 client (portico.adapters.aws) follow exactly the same rules.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

DEFAULT_REGION = "us-east-1"


def region(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def endpoint_url(env: Mapping[str, str] | None = None) -> str | None:
    """The endpoint every client uses: AWS_ENDPOINT_URL wins, then LOCALSTACK_HOST (host[:port]), else real AWS."""
    env = os.environ if env is None else env
    explicit = env.get("AWS_ENDPOINT_URL")
    if explicit:
        return explicit
    localstack = env.get("LOCALSTACK_HOST")
    if localstack:
        host = localstack if ":" in localstack else f"{localstack}:4566"
        return f"http://{host}"
    return None


def service_endpoint_url(service: str, env: Mapping[str, str] | None = None) -> str:
    """The URL of one service, as botocore resolves it for the standard AWS partitions.

    AWS_ENDPOINT_URL_<SERVICE> (e.g. AWS_ENDPOINT_URL_ACM_PCA) first, then `endpoint_url`, then the regional
    public endpoint: `https://<service>[-fips].<region>.amazonaws.com` (`.amazonaws.com.cn` in China regions).
    Other partitions set AWS_ENDPOINT_URL_<SERVICE>.
    """
    env = os.environ if env is None else env
    specific = env.get("AWS_ENDPOINT_URL_" + service.upper().replace("-", "_"))
    if specific:
        return specific
    shared = endpoint_url(env)
    if shared:
        return shared
    where = region(env)
    fips = "-fips" if env.get("AWS_USE_FIPS_ENDPOINT", "").lower() == "true" else ""
    suffix = "amazonaws.com.cn" if where.startswith("cn-") else "amazonaws.com"
    return f"https://{service}{fips}.{where}.{suffix}"


def table_names(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Table names from PORTICO_*_TABLE, with the local defaults."""
    env = os.environ if env is None else env
    return {
        "config": env.get("PORTICO_CONFIG_TABLE", "portico-config"),
        "quota": env.get("PORTICO_QUOTA_TABLE", "portico-quota"),
        "registry": env.get("PORTICO_REGISTRY_TABLE", "portico-registry"),
    }
