"""Application Load Balancer target events, in single-value or multi-value header mode, answered in the same mode."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

from portico.core.http import Request, Response
from portico.edge.events.common import Inbound, decode_body, encode_body, field, grouped_headers, joined_headers
from portico.edge.events.rest_api import event_headers, query_pairs


def is_alb(event: Mapping[str, Any]) -> bool:
    ctx = event.get("requestContext")
    return isinstance(ctx, dict) and "elb" in ctx


def parse(event: Mapping[str, Any]) -> Inbound:
    headers = event_headers(event)
    query = query_pairs(event, decoded=False)
    multi = "multiValueHeaders" in event
    # ALB appends the client address as the last X-Forwarded-For entry; earlier entries are client-supplied.
    forwarded = [p.strip() for p in (headers.get("x-forwarded-for") or "").split(",") if p.strip()]
    request = Request(
        method=field(event, "httpMethod", str, required=True).upper(),
        path=field(event, "path", str, required=True),
        query=query,
        headers=headers,
        body=decode_body(event),
        source_ip=forwarded[-1] if forwarded else "",
        scheme=(headers.get("x-forwarded-proto") or "https").lower(),
        host=headers.get("host") or "",
        raw_query=urlencode(query),
    )
    return Inbound(request, "", _serializer(multi))


def _serializer(multi: bool) -> Callable[[Response], dict[str, Any]]:
    def serialize(response: Response) -> dict[str, Any]:
        body, b64 = encode_body(response)
        headers = response.headers.copy()
        for cookie in response.cookies:
            headers.add("set-cookie", cookie)
        status = response.status
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        out: dict[str, Any] = {
            "statusCode": status,
            "statusDescription": f"{status} {phrase}".strip(),
            "body": body,
            "isBase64Encoded": b64,
        }
        if multi:
            out["multiValueHeaders"] = grouped_headers(headers)
        else:
            # single-value mode cannot repeat a name; Set-Cookie cannot be comma-joined, so the first one is kept
            cookies = headers.get_all("set-cookie")
            headers.remove("set-cookie")
            out["headers"] = joined_headers(headers)
            if cookies:
                out["headers"]["set-cookie"] = cookies[0]
        return out

    return serialize
