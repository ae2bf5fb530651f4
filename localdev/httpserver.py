"""`start(app, host, port)` for local services and tests: the product's one HTTP/1 server (portico.mesh.http1).

There used to be a second, laxer server here; it merged pipelined requests. Everything local now runs the server the
sidecar and the front door run, so a test upstream frames requests exactly as production does.
"""

from __future__ import annotations

import asyncio

from portico.mesh.http1 import RequestHandler
from portico.mesh.listener import listen


async def start(app: RequestHandler, host: str, port: int) -> asyncio.Server:
    return (await listen("local", app, host, port)).server
