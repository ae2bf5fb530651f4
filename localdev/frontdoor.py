"""The local front door: an HTTP server that turns each request into the exact HTTP API v2 event and runs the edge.

It imports the real Lambda entry point (functions/edge/app.py) in-process, so local requests go through the same
event adapter, pipeline and serialisation as in AWS. Requests are served concurrently on one event loop (the
handler's async core is awaited directly; the synchronous `handler` wrapper would block the loop).
Run: python -m localdev.frontdoor [--host 127.0.0.1] [--port 8080] [--config FILE]; prints `listening on URL`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import time
import uuid
from typing import Any

from localdev.httpserver import Incoming, Outgoing, start


def build_event(req: Incoming, host_port: str) -> dict[str, Any]:
    """The API Gateway HTTP API (payload 2.0, $default route) event for one request."""
    from portico.core.headers import Headers
    from portico.core.http import Request
    from portico.edge.events.outbound import event_for

    # not urlsplit: a target such as //admin/x would be read as a network location
    path, _, query = req.target.partition("?")
    path = path.partition("#")[0]
    headers = Headers(req.headers)
    # API Gateway adds these itself; what the client sent under these names is replaced.
    headers.set("x-forwarded-for", req.peer)
    headers.set("x-forwarded-proto", "http")
    headers.set("x-forwarded-port", host_port.rsplit(":", 1)[-1])
    if "host" not in headers:
        headers.set("host", host_port)
    request = Request(
        method=req.method,
        path=path or "/",
        headers=headers,
        body=bytes(req.body),
        source_ip=req.peer,
        host=headers.get("host") or host_port,
        raw_query=query.partition("#")[0],
    )
    request_id = base64.b32encode(uuid.uuid4().bytes[:10]).decode().rstrip("=")  # API Gateway's id looks like this
    return event_for(request, request_id, time.time())


def to_http(result: dict[str, Any]) -> Outgoing:
    """The HTTP answer API Gateway would send for a payload 2.0 result."""
    headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
    headers += [("set-cookie", str(c)) for c in result.get("cookies") or []]
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    return int(result.get("statusCode", 200)), headers, data


async def serve(host: str, port: int) -> None:
    from functions.edge import app as edge_app  # reads PORTICO_* settings, as the Lambda runtime would

    server_port = 0

    async def handle(req: Incoming) -> Outgoing:
        event = build_event(req, f"{host}:{server_port}")
        return to_http(await edge_app.edge.handle_async(event))

    server = await start(handle, host, port)
    server_port = server.sockets[0].getsockname()[1]
    print(f"listening on http://{host}:{server_port}", flush=True)
    async with server:
        await server.serve_forever()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=os.environ.get("PORTICO_FRONTDOOR_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORTICO_FRONTDOOR_PORT", "8080")))
    parser.add_argument("--config", help="serve this YAML file instead of the config table (PORTICO_CONFIG_FILE)")
    args = parser.parse_args()
    if args.config:
        os.environ["PORTICO_CONFIG_FILE"] = args.config
    os.environ.setdefault(
        "PORTICO_ALLOW_LOOPBACK_UPSTREAMS", "true"
    )  # local development allowance: demo upstreams are local
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    cli()
