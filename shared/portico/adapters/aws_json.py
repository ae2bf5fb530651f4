"""A small AWS JSON-protocol client (DynamoDB, ACM Private CA, ACM) for the sidecar: boto3's method names and
request/response shapes, SigV4 from awscrt, standard retries, and none of boto3's service models or endpoint data.

These services speak "awsJson": a POST of the request shape as JSON to `/`, the operation in `X-Amz-Target`. The
request and response shapes are exactly the dicts boto3's low-level clients take and return, except that blobs
travel as base64 text and timestamps as epoch seconds, so the stores work with either client unchanged. Errors are
botocore's own exception types (ClientError with `Error.Code`, BotoCoreError for transport failures), which the
stores already handle; botocore.exceptions imports none of botocore's client machinery.
"""

from __future__ import annotations

import base64
import http.client
import json
import random
import ssl
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError, EndpointConnectionError, HTTPClientError, NoCredentialsError

from portico.adapters import aws_env
from portico.adapters.aws_sigv4 import SigningError, sign


@dataclass(frozen=True, slots=True)
class Service:
    signing_name: str  # SigV4 service name and endpoint prefix
    target_prefix: str  # X-Amz-Target is "<prefix>.<Operation>"
    json_version: str  # Content-Type application/x-amz-json-<version>


SERVICES = {
    "dynamodb": Service("dynamodb", "DynamoDB_20120810", "1.0"),
    "acm-pca": Service("acm-pca", "ACMPrivateCA", "1.1"),
    "acm": Service("acm", "CertificateManager", "1.1"),
}

# Error codes that botocore's standard retry mode retries, besides 5xx answers and transport failures.
RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
MAX_BACKOFF = 20.0  # seconds, as botocore's standard mode
MAX_RESPONSE = 64 << 20  # a DynamoDB page is at most 1 MB of items; anything far larger is not an AWS answer


class AwsJsonClient:
    """`client.put_item(TableName=..., Item=...)` sends DynamoDB's PutItem; any snake_case name works the same way.

    Thread-safe: the sidecar calls it from its I/O threads. Keeps idle keep-alive connections for reuse.
    """

    def __init__(
        self,
        service: str,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        endpoint: str | None = None,
        region: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if service not in SERVICES:
            raise ValueError(f"no JSON-protocol client for {service!r}; known: {', '.join(SERVICES)}")
        self.service = SERVICES[service]
        self.endpoint = endpoint or aws_env.service_endpoint_url(service)
        self.region = region or aws_env.region()
        self.timeout = timeout
        self.attempts = max(1, retries)  # total attempts, as botocore's max_attempts
        self._sleep = sleep
        url = urlsplit(self.endpoint)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"endpoint {self.endpoint!r} is not an http(s) URL")
        self._https = url.scheme == "https"
        self._host = url.hostname
        self._port = url.port
        self._path = url.path or "/"
        self._authority = url.netloc
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        # Idle keep-alive connections close with the client, as urllib3's pools do for boto3: a client dropped
        # without close() must not leak its sockets (the local endpoint keeps connections alive, as AWS does).
        weakref.finalize(self, _close_all, self._idle)

    def __getattr__(self, name: str) -> Callable[..., dict[str, Any]]:
        if name.startswith("_"):
            raise AttributeError(name)
        operation = "".join(part.title() for part in name.split("_"))

        def call(**params: Any) -> dict[str, Any]:
            return self.call(operation, params)

        return call

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """One operation with standard retries: 5xx, throttling and transport failures, with jittered backoff."""
        body = json.dumps(params, separators=(",", ":"), default=_blob).encode()
        for attempt in range(1, self.attempts + 1):
            try:
                return self._send(operation, body)
            except (ClientError, EndpointConnectionError, HTTPClientError) as exc:
                if attempt == self.attempts or not _retryable(exc):
                    raise
            self._sleep(random.random() * min(MAX_BACKOFF, 2.0 ** (attempt - 1)))
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        with self._lock:
            idle = list(self._idle)
            self._idle.clear()  # in place: the finalizer holds this list
        _close_all(idle)

    # --- one attempt
    def _send(self, operation: str, body: bytes) -> dict[str, Any]:
        s = self.service
        headers = {
            "Host": self._authority,
            "Content-Type": f"application/x-amz-json-{s.json_version}",
            "X-Amz-Target": f"{s.target_prefix}.{operation}",
        }
        try:
            signed = sign("POST", self._path, headers, body, region=self.region, service=s.signing_name)
        except SigningError as exc:
            raise NoCredentialsError() from exc
        status, payload = self._exchange(body, signed)
        try:
            data = json.loads(payload) if payload else {}
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        if status >= 300:
            raise ClientError(_error_response(status, data, payload), operation)  # type: ignore[arg-type]
        return data

    def _exchange(self, body: bytes, headers: list[tuple[str, str]]) -> tuple[int, bytes]:
        """POST on a pooled connection; a reused connection the server closed meanwhile is retried once, fresh."""
        conn, reused = self._connection()
        try:
            conn.putrequest("POST", self._path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                conn.putheader(name, value)
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            payload = resp.read(MAX_RESPONSE + 1)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
            conn.close()
            if reused:
                return self._exchange(body, headers)
            raise HTTPClientError(error=exc) from exc
        except ConnectionRefusedError as exc:
            conn.close()
            raise EndpointConnectionError(endpoint_url=self.endpoint, error=exc) from exc
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise HTTPClientError(error=exc) from exc
        if len(payload) > MAX_RESPONSE or resp.will_close:
            conn.close()
        else:
            with self._lock:
                self._idle.append(conn)
        return resp.status, payload

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout, context=_tls()), False
        return http.client.HTTPConnection(self._host, self._port, timeout=self.timeout), False


def client(service: str, *, timeout: float = 10.0, retries: int = 3) -> AwsJsonClient:
    """A client for "dynamodb", "acm-pca" or "acm" with Portico's endpoint rules (portico.adapters.aws_env)."""
    return AwsJsonClient(service, timeout=timeout, retries=retries)


_tls_context: ssl.SSLContext | None = None


def _tls() -> ssl.SSLContext:
    """One verifying client context per process (the system trust store, or AWS_CA_BUNDLE as botocore reads it)."""
    global _tls_context
    if _tls_context is None:
        import os

        _tls_context = ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE") or None)
    return _tls_context


def _blob(value: object) -> str:
    """JSON has no bytes: the awsJson protocol sends blobs (a CSR, a passphrase) as base64 text."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _error_response(status: int, data: dict[str, Any], payload: bytes) -> dict[str, Any]:
    """botocore's error dict: the code is the part of `__type` after '#'."""
    code = str(data.get("__type") or data.get("code") or f"HTTP{status}").rsplit("#", 1)[-1]
    message = data.get("message") or data.get("Message") or payload[:200].decode("utf-8", "replace")
    response: dict[str, Any] = {"Error": {"Code": code, "Message": str(message)}}
    response["ResponseMetadata"] = {"HTTPStatusCode": status}
    for key in ("CancellationReasons",):  # DynamoDB transactions say which item failed and why
        if key in data:
            response[key] = data[key]
    return response


def _retryable(exc: Exception) -> bool:
    if not isinstance(exc, ClientError):
        return True  # transport failures: nothing was answered
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return status >= 500 or exc.response.get("Error", {}).get("Code") in RETRYABLE_CODES


def _close_all(connections: list[http.client.HTTPConnection]) -> None:
    for conn in connections:
        conn.close()
