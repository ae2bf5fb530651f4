"""Issue 20 defect 6 in the sidecar's real outbound chain: a VirtualService regex `(a+)+b` against a long path no
longer stalls the process; the request that does not match goes on to the next route at once."""

from __future__ import annotations

import time

from paused import Peers, outbound, reply, run_paused

CONFIG = """
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: payments}
spec:
  hosts: [payments]
  http:
  - match: [{uri: {regex: "/(a+)+b"}}, {headers: {x-q: {regex: "(a+)+b"}}}]
    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
    route: [{destination: {host: payments}}]
  - route: [{destination: {host: payments}}]
"""


def test_a_catastrophic_regex_costs_linear_time_in_the_sidecar() -> None:
    peers = Peers()
    peers.add("payments", "p0", reply(200))

    async def go() -> list[float]:
        out = await outbound(peers, CONFIG)
        assert (await out.call("GET", "/aab")).status == 418  # the regex route is live
        took = []
        for _ in range(5):
            started = time.perf_counter()
            response = await out.call("GET", "/" + "a" * 10_000 + "!")
            took.append(time.perf_counter() - started)
            assert response.status == 200  # not matched: the next route answered
        return took

    # with a backtracking engine one such request takes longer than the age of the universe; RE2 takes microseconds
    assert min(run_paused(go())) < 0.05
