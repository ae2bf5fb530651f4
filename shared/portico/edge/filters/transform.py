"""Per-route request transform on the way in and response transform on the way back, compiled at config load."""

from __future__ import annotations

from portico.core.chain import Context, Handler
from portico.core.compose.transform import RequestTransformer, ResponseTransformer, TransformError
from portico.core.config.documents import Route
from portico.core.http import Response
from portico.core.problem import problem

from . import attrs


class TransformFilter:
    def __init__(self, routes: dict[str, Route]) -> None:
        self._routes: dict[str, tuple[RequestTransformer | None, ResponseTransformer | None]] = {}
        for name, route in routes.items():
            spec = route.spec.transform
            if spec is None:
                continue
            request = RequestTransformer(spec.request) if spec.request is not None else None
            response = ResponseTransformer(spec.response) if spec.response is not None else None
            self._routes[name] = (request, response)

    async def __call__(self, ctx: Context, next: Handler) -> Response:
        found = self._routes.get(ctx.attrs.get(attrs.ROUTE_NAME) or "")
        if found is None:
            return await next(ctx)
        request, response = found
        try:
            if request is not None:
                request.apply(ctx.request, ctx.attrs.get(attrs.PATH_PARAMS) or {})
        except TransformError as exc:
            return problem(exc.status, exc.detail, request_id=ctx.request_id)
        answer = await next(ctx)
        if response is None:
            return answer
        try:
            return response.apply(answer)
        except TransformError as exc:
            return problem(exc.status, exc.detail, request_id=ctx.request_id)
