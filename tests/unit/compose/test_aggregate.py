"""The aggregate upstream through the real pipeline, with in-memory upstreams: fan-out, failures, allowlists."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from compose_kit import FakeInvoker, FakeTransport, body, call, json_reply, pipeline

ROUTE = """
apiVersion: portico/v1
kind: Route
metadata: {{name: profile}}
spec:
  match: {{methods: [GET], path: "/profile/{{userId}}"}}
  auth: {{none: {{}}}}
  upstream:
    aggregate:
      onPartialFailure: {policy}
      merge: {merge}
      timeout: 1s
      parts:
        user: {{http: {{url: "http://users.test/users/{{userId}}", timeout: 1s}}, fields: [id, name]}}
        orders: {{http: {{url: "http://orders.test/orders", timeout: 1s}}, timeout: {orders_timeout}}}
        prefs: {{lambda: {{functionName: prefs}}}}
"""


def transport(orders_delay: float = 0.0, orders_status: int = 200) -> FakeTransport:
    return FakeTransport(
        {
            "/users/42": (0.0, json_reply({"id": 42, "name": "Ada", "passwordHash": "x"})),
            "/orders": (orders_delay, json_reply([{"id": 1}], status=orders_status)),
        }
    )


def prefs() -> FakeInvoker:
    result = {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps({"theme": "dark"})}
    return FakeInvoker(result)


def config(policy: str = "degrade", merge: str = "object", orders_timeout: str = "1s") -> str:
    return ROUTE.format(policy=policy, merge=merge, orders_timeout=orders_timeout)


def test_object_merge_with_allowlist_and_every_kind() -> None:
    answer = call(pipeline(config(), transport(), prefs()), "GET", "/profile/42")
    assert answer.status == 200
    assert answer.headers.get("x-portico-completed") == "true"
    assert body(answer) == {"user": {"id": 42, "name": "Ada"}, "orders": [{"id": 1}], "prefs": {"theme": "dark"}}


def test_parts_run_concurrently() -> None:
    # timing belongs to the e2e test (real servers); here: both http parts were in flight at the same moment
    fake = FakeTransport({"/users/42": (0.05, json_reply({"id": 42})), "/orders": (0.05, json_reply([]))})
    answer = call(pipeline(config(), fake, FakeInvoker(prefs().result, delay=0.05)), "GET", "/profile/42")
    assert answer.status == 200 and fake.peak == 2


def test_degrade_answers_200_with_nulls_and_errors() -> None:
    answer = call(pipeline(config("degrade"), transport(orders_status=500), prefs()), "GET", "/profile/42")
    assert answer.status == 200
    assert answer.headers.get("x-portico-completed") == "false"
    assert answer.headers.get("cache-control") == "no-store"
    data = body(answer)
    assert data["orders"] is None and data["user"] == {"id": 42, "name": "Ada"}
    assert data["errors"] == [{"part": "orders", "detail": "the upstream answered 500", "status": 500}]


def test_fail_answers_502_problem_naming_the_part() -> None:
    answer = call(pipeline(config("fail"), transport(orders_status=500), prefs()), "GET", "/profile/42")
    assert answer.status == 502 and answer.content_type == "application/problem+json"
    data = body(answer)
    assert "orders" in data["detail"] and data["errors"][0]["part"] == "orders"


def test_a_slow_part_times_out_on_its_own_timeout() -> None:
    pipe = pipeline(config("degrade", orders_timeout="50ms"), transport(orders_delay=0.5), prefs())
    start = time.perf_counter()
    answer = call(pipe, "GET", "/profile/42")
    assert time.perf_counter() - start < 0.4
    assert body(answer)["errors"] == [{"part": "orders", "detail": "timed out", "status": 504}]


def test_shallow_merge() -> None:
    answer = call(pipeline(config("degrade", "shallow"), transport(), prefs()), "GET", "/profile/42")
    # orders answered a list, which a shallow merge cannot place
    assert body(answer) == {
        "id": 42,
        "name": "Ada",
        "theme": "dark",
        "errors": [{"part": "orders", "detail": "the part did not answer a JSON object", "status": 200}],
    }


@dataclass(frozen=True)
class Who:
    sub: str
    consumer: str | None = None

    def headers(self) -> list[tuple[str, str]]:
        return [("x-portico-sub", self.sub)]


def test_parts_are_gets_with_the_verified_identity_and_no_client_body() -> None:
    fake = transport()
    call(
        pipeline(config(), fake, prefs()),
        "GET",
        "/profile/42?secret=1",
        headers=[("accept-encoding", "gzip"), ("if-none-match", '"x"'), ("x-portico-sub", "forged")],
        attrs={"identity": Who("user-1")},
    )
    user_request, url = next((r, u) for r, u in fake.sent if "/users/" in u)
    assert url == "http://users.test/users/42"  # the part's URL as written; the client's query is not forwarded
    assert user_request.method == "GET" and user_request.body == b""
    assert user_request.headers.get("x-portico-sub") == "user-1"
    assert "accept-encoding" not in user_request.headers and "if-none-match" not in user_request.headers


def test_service_part_fails_like_an_unreachable_upstream_until_the_mesh_wires_it() -> None:
    text = config().replace("prefs: {lambda: {functionName: prefs}}", "prefs: {service: {name: prefs}}")
    answer = call(pipeline(text, transport()), "GET", "/profile/42")
    assert body(answer)["errors"] == [{"part": "prefs", "detail": "the upstream could not be reached", "status": 502}]
