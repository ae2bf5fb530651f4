"""The lambda upstream: the request goes to a function as an HTTP API payload 2.0 event; its answer comes back."""

from __future__ import annotations

from typing import Any, Protocol

from portico.core.chain import Context
from portico.core.config.upstream import LambdaUpstream
from portico.core.http import Response
from portico.edge.events.outbound import event_for, response_from


class FunctionInvoker(Protocol):
    """Invokes a Lambda function with a JSON payload; raises UpstreamTimeout / UpstreamConnectError on failure."""

    async def invoke(
        self, function_name: str, qualifier: str | None, payload: dict[str, Any], timeout: float
    ) -> Any: ...


class LambdaRoute:
    def __init__(self, spec: LambdaUpstream, invoker: FunctionInvoker) -> None:
        self._spec = spec
        self._invoker = invoker

    async def __call__(self, ctx: Context, params: dict[str, str]) -> Response:
        event = event_for(ctx.request, ctx.request_id, ctx.now, params)
        result = await self._invoker.invoke(self._spec.function_name, self._spec.qualifier, event, self._spec.timeout)
        return response_from(result)
