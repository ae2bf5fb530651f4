"""The compiled route table: precedence, priority, 404/405, hosts, prefixes, regex, header and query matchers."""

from __future__ import annotations

from typing import Any

from portico.core.config.route import RouteMatch
from portico.core.routing.table import RouteHit, RouteMiss, RouteTable


def table(*routes: tuple[str, dict[str, Any]] | tuple[str, dict[str, Any], int]) -> RouteTable[str]:
    built = []
    for r in routes:
        name, match = r[0], r[1]
        priority = r[2] if len(r) == 3 else 0  # type: ignore[misc]
        built.append((name, RouteMatch.model_validate(match), priority, name))
    return RouteTable.build(built)


def hit(t: RouteTable[str], path: str, method: str = "GET", host: str = "api.example.com", **kw: Any) -> str | None:
    found = t.match(method, host, path, kw.get("headers", {}), kw.get("query", {}))
    return found.payload if isinstance(found, RouteHit) else None


def test_literal_beats_param_and_params_are_captured() -> None:
    t = table(("me", {"path": "/users/me"}), ("one", {"path": "/users/{id}"}), ("all", {"pathPrefix": "/users"}))
    assert hit(t, "/users/me") == "me"
    assert hit(t, "/users/42") == "one"
    assert hit(t, "/users/42/orders") == "all"
    found = t.match("GET", "h", "/users/42", {}, {})
    assert isinstance(found, RouteHit) and found.params == {"id": "42"}


def test_priority_overrides_specificity() -> None:
    t = table(("me", {"path": "/users/me"}), ("catch", {"pathPrefix": "/"}, 10))
    assert hit(t, "/users/me") == "catch"


def test_prefix_respects_segment_boundaries() -> None:
    t = table(("api", {"pathPrefix": "/api"}))
    assert hit(t, "/api") == "api"
    assert hit(t, "/api/x") == "api"
    assert hit(t, "/apikeys") is None


def test_greedy_param_takes_the_rest() -> None:
    t = table(("files", {"path": "/files/{rest+}"}))
    found = t.match("GET", "h", "/files/a/b/c", {}, {})
    assert isinstance(found, RouteHit) and found.params == {"rest": "a/b/c"}
    assert hit(t, "/files") is None


def test_405_lists_allowed_methods_and_head_follows_get() -> None:
    t = table(("get", {"path": "/x", "methods": ["GET"]}), ("put", {"path": "/x", "methods": ["PUT"]}))
    assert t.match("POST", "h", "/x", {}, {}) == RouteMiss(frozenset({"GET", "HEAD", "PUT"}))
    assert hit(t, "/x", "HEAD") == "get"
    assert t.match("GET", "h", "/y", {}, {}) == RouteMiss(frozenset())


def test_hosts_exact_beats_wildcard_beats_any() -> None:
    t = table(
        ("any", {"path": "/x"}),
        ("wild", {"path": "/x", "host": "*.example.com"}),
        ("exact", {"path": "/x", "host": "api.example.com"}),
    )
    assert hit(t, "/x", host="api.example.com") == "exact"
    assert hit(t, "/x", host="a.b.example.com") == "wild"
    assert hit(t, "/x", host="example.com") == "any"


def test_header_and_query_matchers() -> None:
    t = table(
        ("plain", {"path": "/x"}),
        ("beta", {"path": "/x", "headers": [{"name": "X-Beta", "exact": "1"}]}),
        ("v2", {"path": "/x", "query": [{"name": "v", "regex": "2.*"}]}),
    )
    assert hit(t, "/x") == "plain"
    assert hit(t, "/x", headers={"x-beta": ["1"]}) == "beta"
    assert hit(t, "/x", query={"v": ["2.1"]}) == "v2"


def test_regex_is_least_specific_and_captures_groups() -> None:
    t = table(("re", {"pathRegex": r"/r/(\d+)"}), ("tpl", {"path": "/r/{n}"}))
    assert hit(t, "/r/12") == "tpl"
    assert hit(t, "/r/ab") == "tpl"
    t2 = table(("re", {"pathRegex": r"/r/(\d+)"}))
    found = t2.match("GET", "h", "/r/12", {}, {})
    assert isinstance(found, RouteHit) and found.params == {"0": "12"}
