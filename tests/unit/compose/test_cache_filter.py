"""The response cache in the real pipeline: HIT with Age, Cache-Control honoured, authenticated answers kept out."""

from __future__ import annotations

import hashlib

from compose_kit import FakeTransport, body, call, json_reply, pipeline

from portico.core.http import Request, Response

ROUTES = """
apiVersion: portico/v1
kind: Route
metadata: {{name: items}}
spec:
  match: {{methods: [GET, POST], path: "/items/{{id}}"}}
  auth: {auth}
  cache: {{ttl: 30s, varyQuery: [lang], shared: {shared}}}
  upstream: {{http: {{url: "http://items.test/items/{{id}}", timeout: 1s}}}}
"""
# API-key holders for the authenticated cases: the edge authenticates them (see docs/auth.md)
CONSUMERS = "".join(
    f"---\napiVersion: portico/v1\nkind: Consumer\nmetadata: {{name: {who}}}\n"
    f'spec: {{apiKeys: [{{id: k, sha256: "{hashlib.sha256(f"{who}-key".encode()).hexdigest()}"}}]}}\n'
    for who in ("alice", "bob")
)


def counting(**headers: str) -> FakeTransport:
    seen = {"n": 0}

    def reply(request: Request, url: str) -> Response:
        seen["n"] += 1
        return json_reply({"n": seen["n"]}, **headers)(request, url)

    return FakeTransport({"/items/1": (0.0, reply), "/items/2": (0.0, reply)})


def cached(auth: str = "{none: {}}", shared: str = "false", **headers: str) -> tuple[FakeTransport, object]:
    fake = counting(**headers)
    return fake, pipeline(ROUTES.format(auth=auth, shared=shared) + CONSUMERS, fake)


def test_second_get_is_a_hit_with_age() -> None:
    fake, pipe = cached()
    first = call(pipe, "GET", "/items/1", now=100.0)
    second = call(pipe, "GET", "/items/1", now=107.4)
    assert first.headers.get("x-cache") == "MISS" and "age" not in first.headers
    assert second.headers.get("x-cache") == "HIT" and second.headers.get("age") == "7"
    assert body(second) == body(first) == {"n": 1} and len(fake.sent) == 1
    assert second.headers.get("x-request-id") == "req-1"  # per-request fields are added to the hit, not stored


def test_entries_expire_and_keys_follow_the_selected_query() -> None:
    _, pipe = cached()
    call(pipe, "GET", "/items/1?lang=en&utm=a", now=100.0)
    assert call(pipe, "GET", "/items/1?utm=b&lang=en", now=101.0).headers.get("x-cache") == "HIT"
    assert call(pipe, "GET", "/items/1?lang=de", now=101.0).headers.get("x-cache") == "MISS"
    assert call(pipe, "GET", "/items/1?lang=en", now=130.0).headers.get("x-cache") == "MISS"  # ttl 30s passed
    assert call(pipe, "POST", "/items/1", now=131.0).headers.get("x-cache") is None  # never for POST


def test_no_store_and_private_answers_are_not_cached() -> None:
    for directive in ("no-store", "private, max-age=60"):
        _, pipe = cached(cache_control=directive)
        call(pipe, "GET", "/items/1", now=100.0)
        again = call(pipe, "GET", "/items/1", now=101.0)
        assert again.headers.get("x-cache") == "MISS" and body(again) == {"n": 2}, directive


def test_upstream_max_age_shortens_the_ttl() -> None:
    _, pipe = cached(cache_control="max-age=5")
    call(pipe, "GET", "/items/1", now=100.0)
    assert call(pipe, "GET", "/items/1", now=104.0).headers.get("x-cache") == "HIT"
    assert call(pipe, "GET", "/items/1", now=105.0).headers.get("x-cache") == "MISS"


ALICE, BOB = [("x-api-key", "alice-key")], [("x-api-key", "bob-key")]


def test_authenticated_answers_are_not_cached_unless_shared() -> None:
    api_key = "{apiKey: {}}"
    fake, pipe = cached(auth=api_key)
    call(pipe, "GET", "/items/1", now=100.0, headers=ALICE)
    again = call(pipe, "GET", "/items/1", now=101.0, headers=ALICE)
    assert again.headers.get("x-cache") == "MISS" and len(fake.sent) == 2

    fake, pipe = cached(auth=api_key, shared="true")
    call(pipe, "GET", "/items/1", now=100.0, headers=ALICE)
    bob = call(pipe, "GET", "/items/1", now=101.0, headers=BOB)
    assert bob.headers.get("x-cache") == "HIT" and len(fake.sent) == 1  # shared: one answer for every consumer


def test_a_public_route_with_credentials_sent_is_not_cached() -> None:
    fake, pipe = cached()
    call(pipe, "GET", "/items/1", now=100.0, headers=[("authorization", "Bearer x")])
    again = call(pipe, "GET", "/items/1", now=101.0, headers=[("authorization", "Bearer x")])
    assert again.headers.get("x-cache") == "MISS" and len(fake.sent) == 2
