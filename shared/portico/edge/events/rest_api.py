"""REST API (payload 1.0) proxy events: event -> Request, and Response -> result with multiValueHeaders."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from portico.core.headers import Headers
from portico.core.http import Request, Response
from portico.edge.events.common import (
    Inbound,
    decode_body,
    encode_body,
    field,
    grouped_headers,
    multi_headers,
    single_headers,
)
from portico.edge.events.http_api import client_cert


def query_pairs(event: Mapping[str, Any], *, decoded: bool) -> list[tuple[str, str]]:
    """Query pairs from multiValueQueryStringParameters (preferred) or queryStringParameters."""
    from urllib.parse import unquote_plus

    multi = field(event, "multiValueQueryStringParameters", dict)
    single = field(event, "queryStringParameters", dict)
    pairs: list[tuple[str, str]] = []
    if multi:
        for k, values in multi.items():
            pairs.extend((str(k), str(v)) for v in (values if isinstance(values, list) else [values]))
    elif single:
        pairs.extend((str(k), str(v)) for k, v in single.items())
    if not decoded:  # ALB passes query text as the client sent it
        pairs = [(unquote_plus(k), unquote_plus(v)) for k, v in pairs]
    return pairs


def event_headers(event: Mapping[str, Any]) -> Headers:
    multi = field(event, "multiValueHeaders", dict)
    return multi_headers(multi) if multi else single_headers(field(event, "headers", dict))


def parse(event: Mapping[str, Any]) -> Inbound:
    ctx = field(event, "requestContext", dict) or {}
    headers = event_headers(event)
    query = query_pairs(event, decoded=True)
    raw_identity = ctx.get("identity")
    identity: dict[str, object] = raw_identity if isinstance(raw_identity, dict) else {}
    request = Request(
        method=field(event, "httpMethod", str, required=True).upper(),
        path=field(event, "path", str, required=True),
        query=query,
        headers=headers,
        body=decode_body(event),
        source_ip=str(identity.get("sourceIp") or ""),
        scheme=(headers.get("x-forwarded-proto") or "https").lower(),
        host=str(ctx.get("domainName") or headers.get("host") or ""),
        cookies=[],
        raw_query=urlencode(query),
        client_cert=client_cert(identity),  # REST APIs put it under requestContext.identity.clientCert
    )
    return Inbound(request, str(ctx.get("requestId") or ""), serialize)


def serialize(response: Response) -> dict[str, Any]:
    body, b64 = encode_body(response)
    headers = response.headers.copy()
    for cookie in response.cookies:
        headers.add("set-cookie", cookie)
    return {
        "statusCode": response.status,
        "multiValueHeaders": grouped_headers(headers),
        "body": body,
        "isBase64Encoded": b64,
    }
