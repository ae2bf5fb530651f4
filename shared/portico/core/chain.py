"""The filter chain shared by the edge and the sidecar: each filter continues with `next` or answers early.

A filter is `async (ctx, next) -> Response`. The dispatcher (router) is simply the last handler. The chain is built
once, when config loads, by wrapping the list in reverse order as Starlette's `build_middleware_stack` does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from portico.core.http import Request, Response


@dataclass(slots=True)
class Context:
    """Per-request state, passed explicitly through the chain; never a module-level global.

    `now` is the wall-clock time in seconds taken once by the entry point, so filters stay free of clock reads.
    `attrs` carries what one filter hands to a later one (route match, identity, rate-limit decision...).
    """

    request: Request
    now: float
    request_id: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)
    response_headers: list[tuple[str, str]] = field(default_factory=list)


Handler = Callable[[Context], Awaitable[Response]]


class Filter(Protocol):
    """One step of the data path. Return `await next(ctx)` to continue, or a Response to answer now.

    A filter with nothing to do once the rest of the chain has answered may be a plain method that returns
    `next(ctx)` itself (or `answer(response)`): one coroutine fewer per request, and one level fewer for every
    resumption of the request's task to pass through."""

    def __call__(self, ctx: Context, next: Handler) -> Awaitable[Response]: ...


async def answer(response: Response) -> Response:
    """An early answer from a plain (non-async) filter."""
    return response


def _bind(flt: Filter, nxt: Handler) -> Handler:
    # a plain function handing back the filter's own coroutine: no extra coroutine per filter per request
    def step(ctx: Context) -> Awaitable[Response]:
        return flt(ctx, nxt)

    return step


def build_chain(filters: Sequence[Filter], terminal: Handler) -> Handler:
    """Wrap `filters` around `terminal` so that `filters[0]` sees the request first."""
    handler = terminal
    for flt in reversed(filters):
        handler = _bind(flt, handler)
    return handler
