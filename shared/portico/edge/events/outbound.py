"""Portico as the event producer: a Request as the exact HTTP API payload 2.0 event, and a function's result back.

The local front door and the lambda upstream both use this, so functions see what API Gateway would send them.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any
from urllib.parse import parse_qsl

from portico.core.headers import Headers
from portico.core.http import Request, Response
from portico.core.ports import UpstreamConnectError
from portico.edge.events.common import is_text, joined_headers


def event_for(
    request: Request,
    request_id: str,
    now: float,
    path_params: dict[str, str] | None = None,
    *,
    account_id: str = "123456789012",
    api_id: str = "local",
    protocol: str = "HTTP/1.1",
) -> dict[str, Any]:
    """The HTTP API v2 event for `request`; `now` is the wall-clock time in seconds."""
    headers = request.headers.copy()
    cookie_header = headers.get_all("cookie")
    headers.remove("cookie")  # API Gateway moves cookies out of the headers into `cookies`
    cookies = [c.strip() for line in cookie_header for c in line.split(";") if c.strip()] or list(request.cookies)
    host = request.host or headers.get("host") or ""
    query: dict[str, str] = {}
    for key, value in parse_qsl(request.raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    binary = bool(request.body) and not is_text(headers.get("content-type"))
    if not binary and request.body:
        try:
            body_text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            binary = True
    raw_path = request.path
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": request.raw_query,
        "headers": joined_headers(headers),
        "requestContext": {
            "accountId": account_id,
            "apiId": api_id,
            "domainName": host,
            "domainPrefix": host.split(".", 1)[0],
            "http": {
                "method": request.method,
                "path": raw_path,
                "protocol": protocol,
                "sourceIp": request.source_ip,
                "userAgent": headers.get("user-agent") or "",
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": binary,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_params:
        event["pathParameters"] = dict(path_params)
    if request.body:
        event["body"] = base64.b64encode(request.body).decode("ascii") if binary else body_text
    return event


def response_from(result: Any) -> Response:
    """Read a function's result the way HTTP API payload 2.0 does: a response object, or any JSON as a 200 body."""
    if isinstance(result, dict) and "statusCode" in result:
        status = result.get("statusCode")
        if not isinstance(status, int) or not 100 <= status <= 599:
            raise UpstreamConnectError("the function returned an invalid statusCode")
        headers = Headers((str(k), str(v)) for k, v in (result.get("headers") or {}).items())
        for k, values in (result.get("multiValueHeaders") or {}).items():
            for v in values if isinstance(values, list) else [values]:
                headers.add(str(k), str(v))
        body = result.get("body") or ""
        if not isinstance(body, str):
            body = json.dumps(body)
        if result.get("isBase64Encoded"):
            try:
                data = base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise UpstreamConnectError("the function's body is marked base64 but is not") from exc
        else:
            data = body.encode("utf-8")
        return Response(status, headers, data, [str(c) for c in result.get("cookies") or []])
    headers = Headers([("content-type", "application/json")])
    return Response(200, headers, json.dumps(result).encode())
