"""SigV4 signing and the standard AWS credential chain from awscrt (the AWS Common Runtime), without boto3.

awscrt is AWS's own C implementation (aws-c-auth), the one the AWS CLI v2 and botocore's CRT mode use. Its default
chain reads, in order: environment variables, the shared config/credentials files (AWS_PROFILE), STS web identity,
ECS container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI with its authorization token: the
ECS task role) and EC2 instance metadata; it caches the credentials and refreshes them before they expire.
"""

from __future__ import annotations

import datetime
import io
import threading
from collections.abc import Mapping

from awscrt import auth
from awscrt.http import HttpHeaders, HttpRequest

_provider: auth.AwsCredentialsProvider | None = None
_provider_lock = threading.Lock()


def default_credentials() -> auth.AwsCredentialsProvider:
    """One provider per process: it caches credentials, so every client shares one refresh."""
    global _provider
    with _provider_lock:
        if _provider is None:
            _provider = auth.AwsCredentialsProvider.new_default_chain()
        return _provider


class SigningError(Exception):
    """No credentials could be found, or the request could not be signed; the message says which."""


def sign(
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    region: str,
    service: str,
    credentials: auth.AwsCredentialsProvider | None = None,
    timeout: float = 10.0,
    date: datetime.datetime | None = None,
) -> list[tuple[str, str]]:
    """The request's headers with X-Amz-Date, Authorization (and X-Amz-Security-Token) added. Blocks while the
    chain fetches credentials the first time (ECS, instance metadata): call it off the event loop."""
    request = HttpRequest(method, path, HttpHeaders(list(headers.items())), io.BytesIO(body))
    config = auth.AwsSigningConfig(
        auth.AwsSigningAlgorithm.V4,
        auth.AwsSignatureType.HTTP_REQUEST_HEADERS,
        credentials or default_credentials(),
        region,
        service,
        date=date,  # None: now
    )
    try:
        signed = auth.aws_sign_request(request, config).result(timeout)
    except Exception as exc:  # awscrt raises AwsCrtError (no credentials, provider failure) or a timeout
        raise SigningError(f"cannot sign the {service} request: {exc}") from exc
    return list(signed.headers)
