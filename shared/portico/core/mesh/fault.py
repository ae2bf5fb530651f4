"""Fault injection decisions: a delay and an abort, each applied to a percentage of requests (rng passed in)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from portico.core.config.istio_networking import GRPC_CODES, HTTPFaultInjection, Percent
from portico.core.grpc.status import HTTP_STATUS


@dataclass(frozen=True, slots=True)
class FaultDecision:
    delay: float = 0.0
    abort_status: int | None = None
    abort_grpc: int | None = None  # grpcStatus: abort_status is its HTTP equivalent (for HTTP/1 callers)


NO_FAULT = FaultDecision()


def _chance(percentage: Percent | None, legacy_percent: int | None, rng: random.Random) -> bool:
    # Istio treats an unset percentage as 100%: the fault applies to every request.
    pct = percentage.value if percentage is not None else (legacy_percent if legacy_percent is not None else 100.0)
    return rng.random() * 100 < pct


def decide(fault: HTTPFaultInjection | None, rng: random.Random) -> FaultDecision:
    if fault is None:
        return NO_FAULT
    delay = 0.0
    if fault.delay is not None and _chance(fault.delay.percentage, fault.delay.percent, rng):
        delay = fault.delay.fixed_delay
    abort = grpc = None
    if fault.abort is not None and _chance(fault.abort.percentage, None, rng):
        if fault.abort.grpc_status is not None:
            grpc = GRPC_CODES[fault.abort.grpc_status]
            abort = HTTP_STATUS[grpc]
        else:
            abort = fault.abort.http_status
    return FaultDecision(delay=delay, abort_status=abort, abort_grpc=grpc)
