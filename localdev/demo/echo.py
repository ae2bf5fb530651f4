"""Demo upstream: echoes method, path, query, headers and body as JSON; a few httpbin-style paths misbehave on purpose.

Paths (after any prefix): `/status/<code>` answers that status, `/delay/<seconds>` waits first,
`/redirect` answers 302, `/__stats` returns how many requests each path received. Prints `listening on URL`.
Run: python -m localdev.demo.echo --port 18081 --name echo-a
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
from collections import Counter

from portico.core.headers import Headers
from portico.core.http import Request, Response
from portico.mesh.http1 import ConnInfo
from portico.mesh.listener import listen

_STATUS = re.compile(r"/status/(\d{3})$")
_DELAY = re.compile(r"/delay/(\d+(?:\.\d+)?)$")


def make_app(name: str):  # type: ignore[no-untyped-def]
    counts: Counter[str] = Counter()

    async def app(req: Request, info: ConnInfo) -> Response:
        path = req.path
        target = path + (f"?{req.raw_query}" if req.raw_query else "")
        if path.endswith("/__stats"):
            return Response(200, Headers([("content-type", "application/json")]), json.dumps(counts).encode())
        counts[path] += 1
        delay = _DELAY.search(path)
        if delay:
            await asyncio.sleep(float(delay.group(1)))
        status = int(_STATUS.search(path).group(1)) if _STATUS.search(path) else 200  # type: ignore[union-attr]
        headers = Headers([("content-type", "application/json"), ("x-echo-service", name)])
        if path.endswith("/redirect"):
            status = 302
            headers.add("location", "http://example.invalid/elsewhere")
        body = {
            "service": name,
            "method": req.method,
            "path": path,
            "target": target,
            "headers": dict(req.headers.items()),
            "body": req.body.decode("utf-8", "replace"),
            "seen": counts[path],
        }
        return Response(status, headers, json.dumps(body).encode())

    return app


async def main(host: str, port: int, name: str) -> None:
    listener = await listen("echo", make_app(name), host, port)  # the product's HTTP/1 server, as the front door
    print(f"listening on http://{host}:{listener.port}", flush=True)
    async with listener.server:
        await listener.server.serve_forever()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18081)
    parser.add_argument("--name", default="echo")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(args.host, args.port, args.name))


if __name__ == "__main__":
    cli()
