"""Issue 20 defect 6 through the real edge pipeline: route regexes on path, headers and query run with RE2."""

from __future__ import annotations

import asyncio

from tests.auth_support import RecordingTransport, call, edge_handler
from tests.unit.hardening.timing import best_of

CONFIG = """
apiVersion: portico/v1
kind: Route
metadata: {name: evil-path}
spec:
  match: {pathRegex: "/p/(a+)+b"}
  auth: {none: {}}
  upstream: {mock: {status: 201}}
---
apiVersion: portico/v1
kind: Route
metadata: {name: evil-header}
spec:
  match: {pathPrefix: /h, headers: [{name: x-q, regex: "(a+)+b"}], query: [{name: q, regex: "(a+)+b"}]}
  auth: {none: {}}
  upstream: {mock: {status: 202}}
"""
SUBJECT = "a" * 10_000 + "!"


def test_route_regexes_cost_linear_time_through_the_pipeline() -> None:
    handler = edge_handler(CONFIG, RecordingTransport())

    def status(path: str, headers: dict[str, str] | None = None, query: str = "") -> int:
        return int(asyncio.run(call(handler, path, headers or {}, 1_900_000_000.0, query)).status)

    assert status("/p/aab") == 201 and status("/h", {"x-q": "ab"}, "q=aab") == 202  # both routes are live
    assert status("/p/" + SUBJECT) in (404, 414)  # no match (or the path-length limit), never a stall
    assert status("/h", {"x-q": SUBJECT}, f"q={SUBJECT}") == 404
    assert best_of(3, lambda: status("/h", {"x-q": SUBJECT}, f"q={SUBJECT}")) < 0.1
