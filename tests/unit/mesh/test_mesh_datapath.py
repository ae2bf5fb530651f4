"""The sidecar's outbound data path in process, on a paused clock: the real chain, router and engine; peers are
in-process Transport doubles. Each behaviour here also has a subprocess e2e test (tests/e2e/mesh) as outer layer."""

from __future__ import annotations

import asyncio

from paused import Outbound, Peers, body, outbound, refuse, reply, reset, run_paused

RETRY = """
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: payments}
spec:
  hosts: [payments]
  http: [{retries: {attempts: 2, retryOn: "5xx,connect-failure"}, route: [{destination: {host: payments}}]}]
"""


def three(peers: Peers, status: int = 503) -> None:
    for n in range(3):
        peers.add("payments", f"p{n}", reply(status))


def test_a_get_is_retried_on_every_other_instance_then_answers_the_last_status() -> None:
    peers = Peers()
    three(peers)

    async def go() -> Outbound:
        out = await outbound(peers, RETRY)
        resp = await out.call("GET", "/charge")
        assert resp.status == 503 and body(resp)["attempt"] == "3"
        return out

    out = run_paused(go())
    assert sorted(peers.hits("payments").values()) == [1, 1, 1]  # Envoy's previous_hosts: never the same twice
    assert out.counter("portico_upstream_retries_total") == 2
    assert out.counter("portico_upstream_requests_total") == 3


def test_post_is_tried_once_but_a_connect_failure_is_retried_elsewhere() -> None:
    peers = Peers()
    peers.add("payments", "down", refuse)
    peers.add("payments", "up", reply(200))

    async def go() -> None:
        out = await outbound(peers, RETRY, seed=1)
        for _ in range(6):
            assert (await out.call("POST", "/charge", body=b"{}")).status == 200  # the refused try sent nothing
        peers.by_origin["http://10.0.0.2:15443"].behaviour = reply(500)
        before = sum(peers.hits("payments").values())
        assert (await out.call("POST", "/charge", body=b"{}")).status in (500, 503)
        assert sum(peers.hits("payments").values()) - before in (1, 2)  # never a second try after a response

    run_paused(go())


def test_a_reset_is_retried_under_5xx() -> None:
    peers = Peers()
    peers.add("payments", "broken", reset)
    peers.add("payments", "fine", reply(200))

    async def go() -> None:
        out = await outbound(peers, RETRY, seed=3)
        assert all([(await out.call("GET", "/x")).status == 200 for _ in range(5)])

    run_paused(go())


BUDGET = """
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: payments}
spec:
  hosts: [payments]
  http: [{retries: {attempts: 5, retryOn: "5xx"}, route: [{destination: {host: payments}}]}]
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: payments}
spec:
  host: payments
  trafficPolicy: {connectionPool: {http: {maxRetries: 100}}}
"""


def test_the_retry_budget_admits_retries_for_20_percent_of_active_requests_with_a_floor_of_3() -> None:
    peers = Peers()
    for n in range(3):
        peers.add("payments", f"p{n}", reply(503, after=1.0))

    async def go() -> tuple[Outbound, list[int]]:
        out = await outbound(peers, BUDGET)
        replies = await asyncio.gather(*(out.call("GET", f"/r{n}") for n in range(10)))
        return out, [int(body(r)["attempt"]) for r in replies]

    out, attempts = run_paused(go())
    # ten fail together after 1 s: the budget (max(3, 20% of 10)) lets three retry, seven answer at once
    assert out.counter("portico_upstream_retry_overflow_total") == 7
    assert attempts.count(1) == 7 and all(a > 1 for a in attempts if a != 1)
    assert peers.peak <= 10


BREAKER = """
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: payments}
spec:
  hosts: [payments]
  http: [{retries: {attempts: 2, retryOn: "5xx"}, route: [{destination: {host: payments}}]}]
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: payments}
spec:
  host: payments
  trafficPolicy: {connectionPool: {http: {http2MaxRequests: 2, maxRetries: 1}}}
"""


def test_past_max_requests_the_breaker_answers_503_overloaded_at_once() -> None:
    peers = Peers()
    peers.add("payments", "slow", reply(200, after=2.0))

    async def go() -> list[tuple[int, str | None, float]]:
        out = await outbound(peers, BREAKER)
        loop = asyncio.get_running_loop()

        async def timed(n: int) -> tuple[int, str | None, float]:
            resp = await out.call("GET", f"/x{n}")
            return resp.status, resp.headers.get("x-portico-overloaded"), loop.time()

        return await asyncio.gather(*(timed(n) for n in range(5)))

    results = run_paused(go())
    assert sorted(s for s, _, _ in results) == [200, 200, 503, 503, 503]
    assert all(mark == "1" and at == 0.0 for s, mark, at in results if s == 503)  # before the upstream answered
    assert all(at == 2.0 for s, _, at in results if s == 200)


def test_past_max_retries_a_failure_is_answered_without_a_retry() -> None:
    peers = Peers()
    three(peers, 500)

    async def go() -> Outbound:
        out = await outbound(peers, BREAKER)
        await asyncio.gather(out.call("GET", "/a"), out.call("GET", "/b"))
        return out

    out = run_paused(go())
    # two fail together: one takes the only retry slot (then its second retry too), the other overflows
    assert out.counter("portico_upstream_retry_overflow_total") == 1
    assert out.counter("portico_upstream_retries_total") == 2


OUTLIER = """
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: payments}
spec:
  hosts: [payments]
  http: [{retries: {attempts: 0}, route: [{destination: {host: payments}}]}]
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: payments}
spec:
  host: payments
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 3, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 50}
"""


def test_an_outlier_is_ejected_for_base_ejection_time_then_returns() -> None:
    peers = Peers()
    bad = peers.add("payments", "bad", reply(500))
    peers.add("payments", "good", reply(200))

    async def go() -> tuple[Outbound, int, int]:
        out = await outbound(peers, OUTLIER)
        for n in range(20):
            await out.call("GET", f"/{n}")
        hits_while_ejected = len(bad.seen)
        await asyncio.sleep(29.0)
        for n in range(4):
            await out.call("GET", f"/late{n}")
        still_out = len(bad.seen) - hits_while_ejected
        bad.behaviour = reply(200)  # recovered
        await asyncio.sleep(2.0)  # past the 30 s ejection
        for n in range(4):
            await out.call("GET", f"/back{n}")
        return out, hits_while_ejected, still_out

    out, while_ejected, still_out = run_paused(go())
    assert while_ejected == 3  # three consecutive 5xx, then no more traffic
    assert still_out == 0
    assert len(bad.seen) == 5  # round robin sends it half of the four after its return
    assert out.counter("portico_outlier_ejections_total") == 1
    assert out.state.clusters[("payments", None)].state.outlier is not None


TIMEOUTS = """
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: payments}
spec:
  hosts: [payments]
  http:
    - match: [{uri: {prefix: /per-try}}]
      retries: {attempts: 2, perTryTimeout: 1s, retryOn: gateway-error}
      route: [{destination: {host: payments}}]
    - match: [{uri: {prefix: /total}}]
      timeout: 2s
      retries: {attempts: 5, perTryTimeout: 1500ms, retryOn: gateway-error}
      route: [{destination: {host: payments}}]
"""


def test_a_per_try_timeout_moves_the_request_to_another_instance() -> None:
    peers = Peers()
    peers.add("payments", "stuck", reply(200, after=60.0))
    peers.add("payments", "quick", reply(200, after=0.1))

    async def go() -> list[float]:
        out = await outbound(peers, TIMEOUTS)
        loop = asyncio.get_running_loop()
        took = []
        for _ in range(6):
            start = loop.time()
            assert (await out.call("GET", "/per-try")).status == 200
            took.append(loop.time() - start)
        return took

    took = run_paused(go())
    # either straight to the quick one (0.1 s) or 1 s on the stuck one, a backoff of at most 25 ms, then 0.1 s
    assert all(abs(t - 0.1) < 1e-6 or 1.1 <= t <= 1.125 + 1e-6 for t in took), took
    assert any(t > 1 for t in took)


def test_the_route_timeout_bounds_all_tries_and_answers_504() -> None:
    peers = Peers()
    peers.add("payments", "a", reply(200, after=60.0))
    peers.add("payments", "b", reply(200, after=60.0))

    async def go() -> tuple[int, float]:
        out = await outbound(peers, TIMEOUTS)
        loop = asyncio.get_running_loop()
        resp = await out.call("GET", "/total")
        return resp.status, loop.time()

    status, at = run_paused(go())
    assert status == 504
    assert abs(at - 2.0) < 1e-6  # 1.5 s, a backoff, then what is left of 2 s: never a moment past it


MIRROR = """
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: payments}
spec:
  hosts: [payments]
  http: [{mirror: {host: audit}, route: [{destination: {host: payments}}]}]
"""


def test_a_mirror_gets_a_shadow_copy_and_never_delays_or_changes_the_answer() -> None:
    peers = Peers()
    peers.add("payments", "p", reply(201))
    audit = peers.add("audit", "slow-audit", reply(500, after=30.0))

    async def go() -> tuple[int, float]:
        out = await outbound(peers, MIRROR, services=("payments", "audit"))
        loop = asyncio.get_running_loop()
        resp = await out.call("POST", "/charge", body=b'{"n":1}')
        answered = loop.time()
        await asyncio.sleep(60)  # let the shadow call finish, so the loop closes clean
        return resp.status, answered

    status, answered = run_paused(go())
    assert status == 201 and answered == 0.0
    assert len(audit.seen) == 1
    shadow = audit.seen[0]
    assert shadow.headers.get("host") == "audit-shadow" and shadow.body == b'{"n":1}'


def test_no_instance_answers_503_and_counts_it() -> None:
    async def go() -> tuple[int, float]:
        out = await outbound(Peers(), RETRY)
        return (await out.call("GET", "/")).status, out.counter("portico_upstream_no_healthy_total")

    assert run_paused(go()) == (503, 1)
