"""The local front door: an HTTP server that turns each request into the exact HTTP API v2 event and runs the edge.

It imports the real Lambda entry point (functions/edge/app.py) in-process, so local requests go through the same
event adapter, pipeline and serialisation as in AWS. Requests are served concurrently on one event loop (the
handler's async core is awaited directly; the synchronous `handler` wrapper would block the loop).
HTTP/1.1 is read by the sidecar's server (portico.mesh.http1): the same strict framing, Host checks, pipelining,
header-read timeout and connection cap (PORTICO_REQUEST_HEADERS_TIMEOUT, PORTICO_MAX_CONNECTIONS).
Mutual TLS as API Gateway's custom domains do it: with --tls-cert/--tls-key it serves HTTPS, and with --client-ca it
asks for a client certificate, verifies it against that CA, and passes it in
`requestContext.authentication.clientCert` (routes with `auth.clientCert` decide; a request without one is let
through to them, where API Gateway would fail the handshake: both refuse it).
Run: python -m localdev.frontdoor [--host 127.0.0.1] [--port 8080] [--config FILE]
     [--tls-cert C --tls-key K [--client-ca CA]]; prints `listening on URL`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import os
import ssl
import sys
import time
import uuid
from typing import Any

from portico.core.headers import Headers
from portico.core.http import Request, Response
from portico.mesh.http1 import ConnInfo, ServerLimits, limits_from_env
from portico.mesh.listener import listen

# API Gateway's payload limit is 10 MB; the rest of the server limits are the sidecar's
LIMITS = ServerLimits(max_body_bytes=10 * 1024 * 1024)


def client_cert(der: bytes) -> dict[str, Any]:
    """`requestContext.authentication.clientCert` as API Gateway fills it for a verified client certificate."""
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    return {
        "clientCertPem": ssl.DER_cert_to_PEM_cert(der),
        "subjectDN": cert.subject.rfc4514_string(),
        "issuerDN": cert.issuer.rfc4514_string(),
        "serialNumber": format(cert.serial_number, "X"),
        "validity": {
            "notBefore": cert.not_valid_before_utc.strftime("%b %d %H:%M:%S %Y GMT"),
            "notAfter": cert.not_valid_after_utc.strftime("%b %d %H:%M:%S %Y GMT"),
        },
    }


def build_event(req: Request, host_port: str, peer_der: bytes | None = None, tls: bool = False) -> dict[str, Any]:
    """The API Gateway HTTP API (payload 2.0, $default route) event for one request."""
    from portico.edge.events.outbound import event_for

    headers = req.headers.copy()
    # API Gateway adds these itself; what the client sent under these names is replaced.
    headers.set("x-forwarded-for", req.source_ip)
    headers.set("x-forwarded-proto", "https" if tls else "http")
    headers.set("x-forwarded-port", host_port.rsplit(":", 1)[-1])
    if "host" not in headers:  # HTTP/1.0 may omit it
        headers.set("host", host_port)
    request = Request(
        method=req.method,
        path=req.path or "/",
        headers=headers,
        body=req.body,
        source_ip=req.source_ip,
        host=headers.get("host") or host_port,
        raw_query=req.raw_query,
    )
    request_id = base64.b32encode(uuid.uuid4().bytes[:10]).decode().rstrip("=")  # API Gateway's id looks like this
    event = event_for(request, request_id, time.time())
    if peer_der:
        event["requestContext"]["authentication"] = {"clientCert": client_cert(peer_der)}
    return event


def tls_context(cert: str, key: str, client_ca: str | None) -> ssl.SSLContext:
    """Server TLS; with a client CA, a client certificate is asked for and, when sent, verified against it."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    if client_ca:
        context.load_verify_locations(client_ca)
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def to_response(result: dict[str, Any]) -> Response:
    """The HTTP answer API Gateway would send for a payload 2.0 result."""
    headers = Headers((str(k), str(v)) for k, v in (result.get("headers") or {}).items())
    for cookie in result.get("cookies") or []:
        headers.add("set-cookie", str(cookie))
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    return Response(int(result.get("statusCode", 200)), headers, data)


async def serve(host: str, port: int, limits: ServerLimits = LIMITS, tls: ssl.SSLContext | None = None) -> None:
    from functions.edge import app as edge_app  # reads PORTICO_* settings, as the Lambda runtime would

    # Lambda gives each request its own instance; this process serves them all at once: open as many quota-store
    # connections as a burst will use before the first request, not during it.
    await asyncio.to_thread(edge_app.edge.warm, 32)
    # Everything loaded so far (boto3, pydantic models, the pipeline) lives as long as the process. Left in the
    # collector's generations, the first full collection under a burst walks all of it: measured 92 ms with the
    # event loop stopped (on a loaded machine), so every quota check waiting on the loop then failed open. Frozen,
    # a full collection walks only what requests created since.
    gc.collect()
    gc.freeze()

    server_port = 0

    async def handle(req: Request, info: ConnInfo) -> Response:
        event = build_event(req, f"{host}:{server_port}", info.peer_der, info.tls)
        return to_response(await edge_app.edge.handle_async(event))

    listener = await listen("frontdoor", handle, host, port, limits=limits, ssl_context=tls)
    server_port = listener.port
    print(f"listening on {'https' if tls else 'http'}://{host}:{server_port}", flush=True)
    async with listener.server:
        await listener.server.serve_forever()


def cli() -> None:
    # Many requests share this one process (Lambda would give each its own instance): quota calls run on threads
    # beside the event loop, and with the default 5 ms GIL switch interval a loaded machine queued them past a
    # policy's 100 ms timeout. A 1 ms interval lets each thread's short turn come sooner.
    sys.setswitchinterval(0.001)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=os.environ.get("PORTICO_FRONTDOOR_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORTICO_FRONTDOOR_PORT", "8080")))
    parser.add_argument("--config", help="serve this YAML file instead of the config table (PORTICO_CONFIG_FILE)")
    parser.add_argument("--tls-cert", help="serve HTTPS with this certificate chain (PEM)")
    parser.add_argument("--tls-key", help="the private key of --tls-cert (PEM)")
    parser.add_argument("--client-ca", help="ask for client certificates and verify them against this CA (mTLS)")
    args = parser.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key) or (args.client_ca and not args.tls_cert):
        parser.error("--tls-cert and --tls-key go together, and --client-ca needs them")
    if args.config:
        os.environ["PORTICO_CONFIG_FILE"] = args.config
    os.environ.setdefault(
        "PORTICO_ALLOW_LOOPBACK_UPSTREAMS", "true"
    )  # local development allowance: demo upstreams are local
    try:
        limits = limits_from_env(os.environ, LIMITS)
    except ValueError as exc:
        parser.error(str(exc))
    tls = tls_context(args.tls_cert, args.tls_key, args.client_ca) if args.tls_cert else None
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, limits, tls))


if __name__ == "__main__":
    cli()
