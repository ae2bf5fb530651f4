"""The attempt state machine of one upstream call, free of I/O in the manner of httpx's auth flow.

The driver (the edge's dispatch, the sidecar's router) asks what to do and does it:

    call = UpstreamCall(rule, method, cluster, instances, rng)
    step = call.start(now)
    while not isinstance(step, Finish):
        if isinstance(step, Send):   # send to step.instance within step.timeout, then report what happened
            step = call.outcome(step, status_or_None, failure_or_None, now)
        else:                        # Wait: sleep step.delay, then
            step = call.resume(now)
    call.close()                     # always (finally): gives back every slot the call holds

The machine owns the bookkeeping Envoy does around a call: the cluster's request slot (circuit breaking), the retry
budget and retry slots, per-host in-flight counts (least-request), outlier detection, per-try and total timeouts.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from portico.core.grpc.status import HTTP_STATUS
from portico.core.mesh.registry import Instance
from portico.core.upstream.cluster import ClusterState
from portico.core.upstream.retry import Failure, RetryRule, backoff, retriable


@dataclass(frozen=True, slots=True)
class Send:
    """Send the request to `instance`; give up on this try after `timeout` seconds (None: no limit)."""

    instance: Instance
    timeout: float | None
    attempt: int  # 1-based; the x-portico-attempt-count value
    retry: bool  # this try is a retry (counted as one)


@dataclass(frozen=True, slots=True)
class Wait:
    """Back off for `delay` seconds, then call `resume`."""

    delay: float


# why the call ended: `answered` means "return the last try's outcome" (a response, or its failure)
Reason = Literal["answered", "overflow", "no-healthy", "deadline", "retry-overflow"]


@dataclass(frozen=True, slots=True)
class Finish:
    reason: Reason
    status: int | None = None
    failure: Failure | None = None


Step = Send | Wait | Finish


class UpstreamCall:
    """One call's attempts. `instances` are the live endpoints of the cluster's service (subset filtering, outlier
    ejection and panic mode are applied here)."""

    __slots__ = (
        "_cluster",
        "_deadline",
        "_holding_request",
        "_holding_retry",
        "_in_flight",
        "_instances",
        "_method",
        "_rng",
        "_rule",
        "_started",
        "_tried",
        "_tries",
        "ejected",
    )

    def __init__(
        self,
        rule: RetryRule,
        method: str,
        cluster: ClusterState,
        instances: Sequence[Instance],
        rng: random.Random,
    ) -> None:
        self._rule = rule
        self._method = method
        self._cluster = cluster
        self._instances = instances
        self._rng = rng
        self._deadline: float | None = None
        self._started = 0.0
        self._tries = 0
        self._tried: set[str] = set()
        self._holding_request = False
        self._holding_retry = False
        self._in_flight: Instance | None = None
        self.ejected: Instance | None = None  # set by `outcome` when that outcome ejected the host (telemetry)

    def start(self, now: float) -> Step:
        cluster = self._cluster
        if not cluster.breaker.try_request():  # max requests in flight: fail fast, Envoy's overflow
            return Finish("overflow", failure="overflow")
        self._holding_request = True
        cluster.budget.active_requests += 1
        self._started = now
        if self._rule.timeout is not None:
            self._deadline = now + self._rule.timeout
        return self._send(now, retry=False)

    def _send(self, now: float, *, retry: bool) -> Step:
        cluster = self._cluster
        timeout = self._rule.per_try_timeout
        if self._deadline is not None:
            remaining = self._deadline - now
            if remaining <= 0:
                return Finish("deadline", failure="timeout")
            timeout = remaining if timeout is None else min(timeout, remaining)
        instance = cluster.pick(cluster.candidates(self._instances, now), self._rng, self._tried)
        if instance is None:
            return Finish("no-healthy")
        self._tries += 1
        self._tried.add(instance.key)
        cluster.active[instance.key] += 1
        self._in_flight = instance
        return Send(instance, timeout, self._tries, retry)

    def outcome(
        self,
        sent: Send,
        status: int | None,
        failure: Failure | None,
        now: float,
        *,
        grpc_status: int | None = None,
        replayable: bool = True,
    ) -> Step:
        """What the try `sent` gave: a status, or a failure (no response). Returns the next step.

        `grpc_status`: a gRPC answer's status, when known before anything was passed on (trailers-only); it counts
        for outlier detection as its HTTP equivalent, as in Envoy. `replayable=False`: the request cannot be sent
        again (its streamed body outgrew the replay buffer), so the outcome is final whatever the retry rule says.
        """
        cluster = self._cluster
        self._end_try()
        self._release_retry()
        self.ejected = None
        if failure == "overflow":  # the connection pool is full: fail fast, never retried
            return Finish("overflow", failure="overflow")
        counted = status if grpc_status is None or status != 200 else HTTP_STATUS.get(grpc_status, 500)
        if failure != "refused" and cluster.record(sent.instance, counted, now, len(self._instances)):
            self.ejected = sent.instance
        if self._deadline is not None and now >= self._deadline and failure == "timeout":
            return Finish("answered", status, failure)  # the route's own timeout: no time is left to retry
        if not replayable or not retriable(self._rule, self._method, self._tries, status, failure, grpc_status):
            return Finish("answered", status, failure)
        if not cluster.budget.try_acquire():
            return Finish("retry-overflow", status, failure)
        if not cluster.breaker.try_retry():
            cluster.budget.release()
            return Finish("retry-overflow", status, failure)
        self._holding_retry = True
        delay = backoff(self._rule, self._tries, self._rng.random())
        if self._deadline is not None and now + delay >= self._deadline:
            self._release_retry()
            return Finish("answered", status, failure)
        return Wait(delay) if delay > 0 else self._send(now, retry=True)

    def resume(self, now: float) -> Step:
        """After a Wait: the retry goes out."""
        return self._send(now, retry=True)

    @property
    def tries(self) -> int:
        return self._tries

    def _end_try(self) -> None:
        if self._in_flight is not None:
            self._cluster.active[self._in_flight.key] -= 1
            self._in_flight = None

    def _release_retry(self) -> None:
        if self._holding_retry:
            self._holding_retry = False
            self._cluster.budget.release()
            self._cluster.breaker.release_retry()

    def close(self) -> None:
        """Give back what the call holds, whether it finished or was cancelled mid-try."""
        self._end_try()
        self._release_retry()
        if self._holding_request:
            self._holding_request = False
            self._cluster.budget.active_requests -= 1
            self._cluster.breaker.release_request()
