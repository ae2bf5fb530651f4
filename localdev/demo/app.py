"""A tiny demo service: answers JSON naming itself; `orders` calls `payments` through its sidecar.

    python -m localdev.demo.app --service payments --version v1 --port 19011
    python -m localdev.demo.app --service orders --port 19001 --outbound 127.0.0.1:15001

Endpoints: /healthz, / (who am I), /slow?ms=N, /status/<code> (answer that code), /headers (echo),
/hits (requests seen per path),
/order and /orders/<id> (orders only: one call to payments through the sidecar, the answer names the payments
version). Like any app in a mesh, orders copies `traceparent`, `tracestate` and `x-request-id` from the request it
serves onto the call it makes, so one trace spans every hop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os

from portico.adapters.http1_client import ClientSettings, Http1Client
from portico.core.headers import Headers
from portico.core.http import Request, Response
from portico.mesh.http1 import ConnInfo
from portico.mesh.listener import listen

TRACE_HEADERS = ("traceparent", "tracestate", "x-request-id")


def _json(status: int, body: dict[str, object]) -> Response:
    return Response(status, Headers([("content-type", "application/json")]), json.dumps(body).encode())


class DemoApp:
    def __init__(self, service: str, version: str, instance: str, outbound: str | None) -> None:
        self.me = {"service": service, "version": version, "instance": instance}
        self.hits: dict[str, int] = {}
        self.outbound: Http1Client | None = None
        self.outbound_origin = f"http://{outbound}"
        if outbound:  # the sidecar's outbound listener, on loopback
            self.outbound = Http1Client(ClientSettings(allow_loopback=True))

    async def __call__(self, req: Request, info: ConnInfo) -> Response:
        if req.path == "/healthz":
            return _json(200, {"ok": True})
        if req.path == "/hits":
            return _json(200, dict(self.hits))
        self.hits[req.path] = self.hits.get(req.path, 0) + 1
        if req.path == "/headers":
            return _json(200, {**self.me, "headers": req.headers.items()})
        if req.path.startswith("/status/"):
            return _json(
                int(req.path.rsplit("/", 1)[1]), {**self.me, "attempt": req.headers.get("x-portico-attempt-count")}
            )
        if req.path == "/slow":
            await asyncio.sleep(int(req.query_get("ms") or "100") / 1000)
        if (req.path == "/order" or req.path.startswith("/orders/")) and self.outbound is not None:
            headers = Headers([("host", "payments")])
            for name in TRACE_HEADERS:  # the trace continues through this app (as Istio asks of apps)
                value = req.headers.get(name)
                if value is not None:
                    headers.set(name, value)
            call = Request("GET", "/charge", headers=headers, host="payments")
            resp = await self.outbound.send(call, self.outbound_origin + "/charge", 10.0)
            paid = json.loads(resp.body) if resp.status == 200 else {"status": resp.status}
            return _json(200 if resp.status == 200 else 502, {**self.me, "payments": paid})
        return _json(200, {**self.me, "path": req.path, "attempt": req.headers.get("x-portico-attempt-count")})


async def serve(port: int, app: DemoApp) -> None:
    listener = await listen("app", app, "127.0.0.1", port)
    print(f"listening on 127.0.0.1:{listener.port}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--service", required=True)
    p.add_argument("--version", default="v1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--instance", default=f"pid{os.getpid()}")
    p.add_argument("--outbound", help="host:port of the sidecar's outbound listener")
    args = p.parse_args()
    import uvloop

    uvloop.run(serve(args.port, DemoApp(args.service, args.version, args.instance, args.outbound)))


if __name__ == "__main__":
    main()
