"""Admin endpoints on 127.0.0.1: /ready, /live, /stats (Prometheus text) and /config_dump (JSON)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from portico.core.headers import Headers
from portico.core.http import Request, Response
from portico.core.problem import problem
from portico.mesh.http1 import ConnInfo


class AdminHandler:
    def __init__(
        self, ready: Callable[[], tuple[bool, str]], stats: Callable[[], str], dump: Callable[[], dict[str, Any]]
    ) -> None:
        self._ready, self._stats, self._dump = ready, stats, dump

    async def __call__(self, req: Request, info: ConnInfo) -> Response:
        if req.method not in ("GET", "HEAD"):
            return problem(405, "the admin endpoints are read-only", headers=Headers([("allow", "GET, HEAD")]))
        if req.path == "/live":
            return _text(200, "live\n")
        if req.path == "/ready":
            ok, why = self._ready()
            return _text(200 if ok else 503, why + "\n")
        if req.path == "/stats":
            return _text(200, self._stats(), "text/plain; version=0.0.4")
        if req.path == "/config_dump":
            body = json.dumps(self._dump(), indent=2, sort_keys=True, default=str).encode()
            return Response(200, Headers([("content-type", "application/json")]), body)
        return problem(404, "admin endpoints: /ready /live /stats /config_dump")


def _text(status: int, text: str, ctype: str = "text/plain; charset=utf-8") -> Response:
    return Response(status, Headers([("content-type", ctype)]), text.encode())
