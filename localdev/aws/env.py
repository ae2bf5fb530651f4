"""Dummy credentials and region for a local endpoint, without touching a user's real AWS settings."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

LOCAL_REGION = "us-east-1"

# LocalStack maps access key "test" to its default account 000000000000; moto ignores credentials. Real keys
# must never be sent to a local endpoint, and a profile or config file must not redirect or re-sign the calls.
_DUMMY = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_REGION": LOCAL_REGION,
    "AWS_DEFAULT_REGION": LOCAL_REGION,
}
# Settings that would otherwise leak a user's real identity or endpoints into local calls.
_CLEARED = (
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "LOCALSTACK_HOST",
)


def local_env(url: str, base: Mapping[str, str]) -> dict[str, str]:
    """A copy of `base` that points every AWS client at `url` with dummy credentials.

    Used for child processes (front door, sidecars) and the test session; the caller's own environment is left
    as it was, so real AWS use elsewhere keeps the user's settings.
    """
    env = {k: v for k, v in base.items() if k not in _CLEARED and not k.startswith("AWS_ENDPOINT_URL_")}
    env.update(_DUMMY)
    env["AWS_ENDPOINT_URL"] = url
    # Empty config/credentials files keep ~/.aws from adding a profile's region, endpoint or credentials.
    env["AWS_CONFIG_FILE"] = "/dev/null"
    env["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
    return env


@contextlib.contextmanager
def local_environ(url: str) -> Iterator[None]:
    """Point this process's AWS settings at `url` (see local_env) and restore them exactly afterwards."""
    saved = dict(os.environ)
    _replace_environ(local_env(url, saved))
    try:
        yield
    finally:
        _replace_environ(saved)


def _replace_environ(target: Mapping[str, str]) -> None:
    """Make os.environ equal `target` key by key (never empty in between, unlike clear() + update())."""
    for key in [k for k in os.environ if k not in target]:
        del os.environ[key]
    for key, value in target.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


def client(service: str, url: str, **kwargs: Any) -> Any:
    """A boto3 client for `service` at the local endpoint `url`, with dummy credentials passed explicitly."""
    import boto3  # only callers that talk to AWS pay for importing boto3

    return boto3.session.Session().client(
        service,  # type: ignore[call-overload]  # boto3-stubs overloads want a literal name
        endpoint_url=url,
        region_name=LOCAL_REGION,
        aws_access_key_id=_DUMMY["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=_DUMMY["AWS_SECRET_ACCESS_KEY"],
        **kwargs,
    )
