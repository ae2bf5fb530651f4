"""Placeholder edge entry point so `sam build` and the local deploy work before the edge pipeline lands.

The edge team replaces this file with the real handler (event adapters -> cached filter chain -> serialize).
Until then every request gets an RFC 9457 503 "edge not configured", after one read of the config table's
version item, so a deployed stack proves the function, its layer, its environment and its table policy work.
"""

from __future__ import annotations

import json
from typing import Any

from portico.adapters.aws import client, table_names
from portico.core.problem import problem

_VERSION_KEY = {"kind": {"S": "__meta__"}, "name": {"S": "version"}}


def _config_applied() -> bool:
    """Whether the config table holds a version item, i.e. `portico apply` has run against it."""
    dynamodb = client("dynamodb", timeout=2, retries=2)
    return "Item" in dynamodb.get_item(TableName=table_names()["config"], Key=_VERSION_KEY)


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """HTTP API (payload 2.0) handler: always 503 problem+json until the edge pipeline replaces it."""
    request_id = str((event.get("requestContext") or {}).get("requestId") or "")
    try:
        state = "config applied" if _config_applied() else "config table empty"
        detail = f"edge not configured ({state})"
    except Exception:  # the store being down is still a clear 503, never a stack trace
        detail = "edge not configured (config store unavailable)"
    response = problem(503, detail, request_id=request_id or None)
    return {
        "statusCode": response.status,
        "headers": dict(response.headers.items()),
        "body": response.body.decode(),
        "isBase64Encoded": False,
    }


if __name__ == "__main__":  # a quick local smoke run: python functions/edge/app.py
    print(json.dumps(handler({"requestContext": {"requestId": "local"}}, None)))
