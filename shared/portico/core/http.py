"""Portico's own request and response: what every event adapter and listener converts to and from."""

from __future__ import annotations

from dataclasses import dataclass, field

from portico.core.headers import Headers


@dataclass(frozen=True, slots=True)
class ClientCert:
    """The client certificate the front door verified (API Gateway mTLS: requestContext.authentication.clientCert)."""

    pem: str
    subject_dn: str = ""
    issuer_dn: str = ""
    serial: str = ""


@dataclass(slots=True)
class Request:
    """One HTTP request, independent of how it arrived (API Gateway event, ALB event, socket).

    `path` is the raw path as received; the normalisation filter sets `normalized_path`, and routing and
    authorisation use only that.
    """

    method: str
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    source_ip: str = ""
    scheme: str = "https"
    host: str = ""
    cookies: list[str] = field(default_factory=list)
    raw_query: str = ""
    normalized_path: str | None = None
    client_cert: ClientCert | None = None

    @property
    def route_path(self) -> str:
        """The path that routing decisions use: the normalised one once normalisation has run."""
        return self.normalized_path if self.normalized_path is not None else self.path

    def query_get(self, name: str) -> str | None:
        for key, value in self.query:
            if key == name:
                return value
        return None


@dataclass(slots=True)
class Response:
    status: int
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    cookies: list[str] = field(default_factory=list)

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")
