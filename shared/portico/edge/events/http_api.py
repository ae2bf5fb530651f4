"""HTTP API payload 2.0 (also the Lambda Function URL format): event -> Request, and Response -> result."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from portico.core.http import ClientCert, Request, Response
from portico.edge.events.common import (
    Inbound,
    MalformedEvent,
    decode_body,
    encode_body,
    field,
    joined_headers,
    single_headers,
)


def parse(event: Mapping[str, Any]) -> Inbound:
    ctx = field(event, "requestContext", dict, required=True)
    http = field(ctx, "http", dict, required=True)
    method = field(http, "method", str, required=True).upper()
    raw_path = field(event, "rawPath", str) or field(http, "path", str, required=True)
    raw_query = field(event, "rawQueryString", str) or ""
    headers = single_headers(field(event, "headers", dict))
    cookies = [str(c) for c in (field(event, "cookies", list) or [])]
    if cookies and "cookie" not in headers:
        headers.set("cookie", "; ".join(cookies))  # upstreams read cookies from the Cookie header
    request = Request(
        method=method,
        path=raw_path,
        query=parse_qsl(raw_query, keep_blank_values=True),
        headers=headers,
        body=decode_body(event),
        source_ip=str(http.get("sourceIp") or ""),
        scheme=(headers.get("x-forwarded-proto") or "https").lower(),
        host=str(ctx.get("domainName") or headers.get("host") or ""),
        cookies=cookies,
        raw_query=raw_query,
        client_cert=client_cert(ctx.get("authentication")),
    )
    return Inbound(request, str(ctx.get("requestId") or ""), serialize)


def client_cert(authentication: Any) -> ClientCert | None:
    """API Gateway's mutual TLS: the verified certificate in `authentication.clientCert` (HTTP API and REST)."""
    cert = authentication.get("clientCert") if isinstance(authentication, Mapping) else None
    if not isinstance(cert, Mapping) or not isinstance(cert.get("clientCertPem"), str):
        return None
    return ClientCert(
        pem=cert["clientCertPem"],
        subject_dn=str(cert.get("subjectDN") or ""),
        issuer_dn=str(cert.get("issuerDN") or ""),
        serial=str(cert.get("serialNumber") or ""),
    )


def serialize(response: Response) -> dict[str, Any]:
    body, b64 = encode_body(response)
    headers = response.headers.copy()
    cookies = [*response.cookies, *headers.get_all("set-cookie")]
    headers.remove("set-cookie")  # payload 2.0 carries Set-Cookie in `cookies`; headers cannot repeat a name
    out: dict[str, Any] = {
        "statusCode": response.status,
        "headers": joined_headers(headers),
        "body": body,
        "isBase64Encoded": b64,
    }
    if cookies:
        out["cookies"] = cookies
    return out


def is_v2(event: Mapping[str, Any]) -> bool:
    version = event.get("version")
    if version == "2.0":
        return True
    if version is not None and version != "1.0":
        raise MalformedEvent(f"unsupported payload version {version!r}")
    return False
