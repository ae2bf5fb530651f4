"""The thin loop that drives core.upstream.call.UpstreamCall: it does the sends and the sleeps, nothing else.

The edge's http and service dispatch and the sidecar's router all call `drive`; what they differ in (the URL of an
instance, the headers of a try, their telemetry) is in the `attempt` and `observe` callables they pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from portico.core.http import Response
from portico.core.mesh.registry import Instance
from portico.core.ports import (
    UpstreamConnectError,
    UpstreamError,
    UpstreamOverflow,
    UpstreamRefused,
    UpstreamReset,
    UpstreamTimeout,
)
from portico.core.upstream.call import Finish, Send, UpstreamCall, Wait
from portico.core.upstream.retry import Failure

Attempt = Callable[[Send], Awaitable[Response]]
# what a response says beyond its status: (grpc-status when known before any byte went on, whether the request
# could be sent again); the HTTP/2 path passes one, HTTP/1 callers need none
Classify = Callable[[Response], tuple[int | None, bool]]
# told after each try: what was sent, the status (None: no response) and the host that outcome ejected, if any
Observe = Callable[[Send, int | None, Instance | None], None]


@dataclass(frozen=True, slots=True)
class CallResult:
    """How the call ended; `response` / `error` are the last try's (both None when no try went out)."""

    finish: Finish
    response: Response | None
    error: UpstreamError | None


def failure_of(exc: UpstreamError) -> Failure:
    if isinstance(exc, UpstreamTimeout):
        return "timeout"
    if isinstance(exc, UpstreamConnectError):
        return "connect-failure"
    if isinstance(exc, UpstreamRefused):
        return "refused"
    if isinstance(exc, UpstreamOverflow):
        return "overflow"
    if isinstance(exc, UpstreamReset):
        return "reset"
    return "reset"


async def drive(
    call: UpstreamCall,
    attempt: Attempt,
    monotonic: Callable[[], float],
    observe: Observe | None = None,
    classify: Classify | None = None,
) -> CallResult:
    response: Response | None = None
    error: UpstreamError | None = None
    try:
        step = call.start(monotonic())
        while True:
            if isinstance(step, Send):
                sent = step
                try:
                    response, error = await attempt(sent), None
                    if classify is None:
                        step = call.outcome(sent, response.status, None, monotonic())
                    else:
                        grpc_status, replayable = classify(response)
                        step = call.outcome(
                            sent, response.status, None, monotonic(), grpc_status=grpc_status, replayable=replayable
                        )
                except UpstreamError as exc:
                    response, error = None, exc
                    step = call.outcome(sent, None, failure_of(exc), monotonic())
                if observe is not None:
                    observe(sent, response.status if response is not None else None, call.ejected)
            elif isinstance(step, Wait):
                await asyncio.sleep(step.delay)
                step = call.resume(monotonic())
            else:
                return CallResult(step, response, error)
    finally:
        call.close()
