"""The developer portal under the reserved prefix /_portico/: the OpenAPI document and the page that renders it.

It runs before route match, so no route can shadow it (config validation also refuses routes under /_portico/).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from portico.core.chain import Context, Handler
from portico.core.headers import Headers
from portico.core.http import Response
from portico.core.problem import problem

PREFIX = "/_portico/"
ACCOUNT_PREFIX = "/_portico/portal/"  # sign-in and self-service keys: a separate module, loaded on first use
# The page loads only its own script, style and document: nothing from elsewhere, not even inline code.
_DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


class PortalFilter:
    """GET/HEAD /_portico/openapi.json, /_portico/docs and /_portico/static/*; the rest of /_portico/ is 404."""

    def __init__(
        self,
        document: dict[str, Any],
        assets: dict[str, tuple[bytes, str]],
        enabled: bool = True,
        account: Callable[[], Handler] | None = None,
    ) -> None:
        self._enabled = enabled
        self._make_account = account
        self._account: Handler | None = None
        spec = json.dumps(document, separators=(",", ":")).encode()
        docs_html, html_type = assets["docs.html"]
        self._pages: dict[str, tuple[bytes, list[tuple[str, str]]]] = {
            # no-cache: the document follows the live config, so clients revalidate rather than keep a stale copy
            "openapi.json": (spec, [("content-type", "application/json"), ("cache-control", "no-cache")]),
            "docs": (
                docs_html,
                [("content-type", html_type), ("cache-control", "no-cache"), ("content-security-policy", _DOCS_CSP)],
            ),
        }
        for name, (body, ctype) in assets.items():
            if name != "docs.html":
                self._pages[f"static/{name}"] = (body, [("content-type", ctype), ("cache-control", "max-age=300")])

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        path = ctx.request.route_path
        if not path.startswith(PREFIX) and path != PREFIX.rstrip("/"):
            return await next(ctx)
        if self._enabled and self._make_account is not None and path.startswith(ACCOUNT_PREFIX):
            if self._account is None:
                self._account = self._make_account()
            return await self._account(ctx)
        page = self._pages.get(path[len(PREFIX) :].rstrip("/")) if self._enabled else None
        if page is None:
            return problem(404, "no such portal resource", request_id=ctx.request_id)
        if ctx.request.method not in ("GET", "HEAD"):
            return problem(
                405,
                "the portal is read-only; allowed: GET, HEAD",
                request_id=ctx.request_id,
                headers=Headers([("allow", "GET, HEAD")]),
            )
        body, fields = page
        headers = Headers(fields)
        headers.add("x-content-type-options", "nosniff")
        return Response(200, headers, b"" if ctx.request.method == "HEAD" else body)
