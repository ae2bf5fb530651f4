"""The aggregate upstream: named parts of any single kind fetched concurrently, merged into one JSON answer."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from portico.core.chain import Context
from portico.core.compose.merge import Merged, PartOutcome, merge_parts
from portico.core.compose.transform import is_json
from portico.core.config.upstream import AggregatePart, AggregateUpstream
from portico.core.headers import Headers
from portico.core.http import Request, Response
from portico.core.ports import UpstreamConnectError, UpstreamRefused, UpstreamTimeout
from portico.core.problem import problem
from portico.core.untrusted import UntrustedInputError, load_json
from portico.edge.filters.identity_view import identity_headers, identity_of

log = logging.getLogger("portico.edge")

RouteCall = Callable[[Context, dict[str, str]], Awaitable[Response]]
# Request fields a part must not inherit: parts are GETs without a body that must answer plain, complete JSON.
_NOT_FOR_PARTS = (
    "content-length",
    "content-type",
    "content-encoding",
    "accept-encoding",
    "range",
    "if-range",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "expect",
)


@dataclass(frozen=True, slots=True)
class _Part:
    name: str
    call: RouteCall
    timeout: float
    fields: list[str] | None


def part_timeout(part: AggregatePart, overall: float) -> float:
    """The part's own timeout, else its upstream kind's, never beyond the aggregate's overall timeout."""
    kind = part.http or part.lambda_ or part.service
    own = part.timeout if part.timeout is not None else (kind.timeout if kind is not None else overall)
    return min(own, overall)


class AggregateRoute:
    """Fans out to every part at once (asyncio tasks), each under its own timeout and all under the overall one.

    Parts are always GET requests without a body: an aggregate composes reads, and replaying a client's write to
    several services is never safe. They carry the client's headers (minus body, conditional and encoding
    fields) and the verified identity as x-portico-* fields.
    """

    def __init__(self, spec: AggregateUpstream, compile_part: Callable[[AggregatePart], RouteCall]) -> None:
        self._spec = spec
        self._parts = [
            _Part(name, compile_part(part), part_timeout(part, spec.timeout), part.fields)
            for name, part in spec.parts.items()
        ]
        self._fields = {p.name: p.fields for p in self._parts}

    async def __call__(self, ctx: Context, params: dict[str, str]) -> Response:
        tasks = [asyncio.create_task(self._fetch(part, _part_context(ctx), params)) for part in self._parts]
        done, pending = await asyncio.wait(tasks, timeout=self._spec.timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        outcomes = [
            task.result() if task in done else PartOutcome(part.name, error="timed out", status=504)
            for part, task in zip(self._parts, tasks, strict=True)
        ]
        return self._answer(ctx, merge_parts(outcomes, self._spec.merge, self._fields))

    def _answer(self, ctx: Context, merged: Merged) -> Response:
        headers = Headers([("content-type", "application/json")])
        if merged.complete:
            headers.set("x-portico-completed", "true")
            return Response(200, headers, _dump(merged.body))
        names = ", ".join(p.name for p in merged.failed)
        if self._spec.on_partial_failure == "fail":
            return problem(
                502,
                f"aggregate part(s) failed: {names}",
                request_id=ctx.request_id,
                headers=Headers([("x-portico-completed", "false")]),
                extra={"errors": merged.errors()},
            )
        headers.set("x-portico-completed", "false")
        headers.set("cache-control", "no-store")  # a partial answer must not be cached by us or by the client
        return Response(200, headers, _dump({**merged.body, "errors": merged.errors()}))

    async def _fetch(self, part: _Part, ctx: Context, params: dict[str, str]) -> PartOutcome:
        try:
            response = await asyncio.wait_for(part.call(ctx, params), part.timeout)
        except (TimeoutError, UpstreamTimeout):
            return PartOutcome(part.name, error="timed out", status=504)
        except (UpstreamConnectError, UpstreamRefused):
            return PartOutcome(part.name, error="the upstream could not be reached", status=502)
        except Exception:  # one broken part must not break the others; the trace goes to the log only
            log.exception("aggregate part %s failed (request %s)", part.name, ctx.request_id)
            return PartOutcome(part.name, error="the part failed", status=502)
        return _outcome(part.name, response)


def _outcome(name: str, response: Response) -> PartOutcome:
    if not 200 <= response.status < 300:
        return PartOutcome(name, error=f"the upstream answered {response.status}", status=response.status)
    if not response.body:
        return PartOutcome(name, value=None, status=response.status)
    if not is_json(response.content_type):
        return PartOutcome(name, error="the upstream did not answer JSON", status=502)
    try:
        return PartOutcome(name, value=load_json(response.body, what="the upstream answer"), status=response.status)
    except UntrustedInputError:
        return PartOutcome(name, error="the upstream answered invalid JSON", status=502)


def _part_context(ctx: Context) -> Context:
    source = ctx.request
    headers = source.headers.copy()
    for name in _NOT_FOR_PARTS:
        headers.remove(name)
    headers.set("accept", "application/json")
    for name, value in identity_headers(identity_of(ctx)):
        headers.set(name, value)
    request = Request(
        method="GET",
        path=source.path,
        headers=headers,
        source_ip=source.source_ip,
        scheme=source.scheme,
        host=source.host,
        normalized_path=source.normalized_path,
    )
    return Context(request=request, now=ctx.now, request_id=ctx.request_id, attrs=dict(ctx.attrs))


def _dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
