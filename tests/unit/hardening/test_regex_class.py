"""Issue 20 defect 6's class: every place a user's regex meets request data runs RE2, so `(a+)+b` against 10,000
characters takes under 10 ms at each entry point, and what RE2 cannot compile is refused at validation.

`test_no_regex_outside_the_re2_module_takes_a_runtime_pattern` reads the syntax tree of the product: any `re`
call whose pattern is not a literal in the code fails it, so a new regex entry point must use UserRegex.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from portico.core.compose.transform import RequestTransformer
from portico.core.config.compose import RequestTransform
from portico.core.config.documents import VirtualService
from portico.core.config.loader import parse_documents
from portico.core.config.route import RouteMatch
from portico.core.config.upstream import HttpUpstream
from portico.core.headers import Headers
from portico.core.http import Request
from portico.core.mesh.vsmatch import compile_match
from portico.core.routing.rewrite import UpstreamTarget
from portico.core.routing.table import RouteTable
from tests.unit.hardening.timing import best_of

ROOT = Path(__file__).resolve().parents[3]
EVIL = r"(a+)+b"
SUBJECT = "a" * 10_000 + "!"
RE_CALLS = {"compile", "match", "search", "fullmatch", "sub", "subn", "split", "findall", "finditer"}
# Runtime patterns that are not a user's: what they are built from.
TRUSTED = {"shared/portico/core/untrusted.py": "an integer depth limit"}


def test_no_regex_outside_the_re2_module_takes_a_runtime_pattern() -> None:
    found: dict[str, int] = {}
    for folder in ("shared/portico", "functions"):
        for path in (ROOT / folder).rglob("*.py"):
            rel = str(path.relative_to(ROOT))
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args):
                    continue
                owner = node.func.value
                if isinstance(owner, ast.Name) and owner.id == "re2" and rel != "shared/portico/core/regex.py":
                    found[rel] = node.lineno  # RE2 itself is used only through UserRegex
                if not (isinstance(owner, ast.Name) and owner.id == "re" and node.func.attr in RE_CALLS):
                    continue
                if not (isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str | bytes)):
                    found[rel] = node.lineno
    assert set(found) - TRUSTED.keys() == set(), f"user regexes go through portico.core.regex.UserRegex: {found}"


def _route_table(field: str) -> Callable[[], object]:
    spec: dict[str, Any] = {"pathRegex": "/x/" + EVIL} if field == "path" else {"pathPrefix": "/"}
    if field in ("headers", "query"):
        spec[field] = [{"name": "q", "regex": EVIL}]
    table = RouteTable.build([("r", RouteMatch.model_validate(spec), 0, "payload")])
    path = "/x/" + SUBJECT if field == "path" else "/"
    values = {"q": [SUBJECT]}
    headers = values if field == "headers" else {}
    query = values if field == "query" else {}
    return lambda: table.match("GET", "api.test", path, headers, query)


def _virtual_service(field: str) -> Callable[[], object]:
    match: dict[str, Any] = {
        "uri": {"uri": {"regex": EVIL}},
        "uri ignoring case": {"uri": {"regex": EVIL}, "ignoreUriCase": True},
        "authority": {"authority": {"regex": EVIL}},
        "headers": {"headers": {"x-q": {"regex": EVIL}}},
        "queryParams": {"queryParams": {"q": {"regex": EVIL}}},
        "withoutHeaders": {"withoutHeaders": {"x-q": {"regex": EVIL}}},
    }[field]
    vs = VirtualService.model_validate(
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "metadata": {"name": "v"},
            "spec": {"hosts": ["s"], "http": [{"match": [match], "route": [{"destination": {"host": "s"}}]}]},
        }
    )
    predicate = compile_match(vs.spec.http[0].match[0])
    request = Request("GET", "/" + SUBJECT, query=[("q", SUBJECT)], headers=Headers([("x-q", SUBJECT)]))
    request.host = SUBJECT
    return lambda: predicate(request)


def _upstream_rewrite() -> Callable[[], object]:
    upstream = HttpUpstream.model_validate(
        {"url": "https://up.example.com", "rewrite": {"regex": EVIL, "substitution": "/b"}}
    )
    target = UpstreamTarget.compile(upstream, None)
    return lambda: target.path("/" + SUBJECT, {})


def _transform_path() -> Callable[[], object]:
    transformer = RequestTransformer(RequestTransform.model_validate({"path": {"regex": EVIL, "substitution": "/b"}}))
    return lambda: transformer.apply(Request("GET", "/" + SUBJECT), {})


def _validation(keyword: str) -> Callable[[], object]:
    from portico.core.config.protection import Validation
    from portico.core.validation.request import RequestValidator

    schema: dict[str, Any] = (
        {"type": "object", "properties": {"a": {"type": "string", "pattern": "^" + EVIL + "$"}}}
        if keyword == "pattern"
        else {"type": "object", "patternProperties": {"^" + EVIL + "$": {"type": "string"}}}
    )
    validator = RequestValidator(Validation.model_validate({"body": {"schema": schema}}))
    body = json.dumps({"a": SUBJECT} if keyword == "pattern" else {SUBJECT: "x"}).encode()
    return lambda: validator.check({}, [], [("content-type", "application/json")], body)


ENTRY_POINTS: dict[str, Callable[[], Callable[[], object]]] = {
    "Route match.pathRegex": lambda: _route_table("path"),
    "Route match.headers[].regex": lambda: _route_table("headers"),
    "Route match.query[].regex": lambda: _route_table("query"),
    **{f"VirtualService match {f}": (lambda f=f: _virtual_service(f))  # type: ignore[misc]
       for f in ("uri", "uri ignoring case", "authority", "headers", "queryParams", "withoutHeaders")},
    "Route upstream.http.rewrite.regex": _upstream_rewrite,
    "Route transform.request.path.regex": _transform_path,
    "Route validate.body JSON Schema pattern": lambda: _validation("pattern"),
    "Route validate.body JSON Schema patternProperties": lambda: _validation("patternProperties"),
}  # fmt: skip


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=str)
def test_each_entry_point_is_linear(entry: str) -> None:
    work = ENTRY_POINTS[entry]()
    work()
    assert best_of(5, work) < 0.010, entry


@pytest.mark.parametrize(
    "document",
    [
        "kind: Route\nspec:\n  match: {pathRegex: '/(a)\\1'}\n",
        "kind: Route\nspec:\n  match: {pathPrefix: /, headers: [{name: x, regex: '(?=a)'}]}\n",
        "kind: Route\nspec:\n  match: {pathPrefix: /, query: [{name: x, regex: '(?<!a)b'}]}\n",
        "kind: VirtualService\nspec:\n  http: [{match: [{uri: {regex: '(a)\\1'}}]}]\n",
        "kind: VirtualService\nspec:\n  http: [{match: [{headers: {x: {regex: '(?=a)'}}}]}]\n",
    ],
)
def test_what_re2_cannot_compile_is_refused_at_validation(document: str) -> None:
    version = "networking.istio.io/v1" if "VirtualService" in document else "portico/v1"
    _, issues = parse_documents(f"apiVersion: {version}\nmetadata: {{name: x}}\n{document}")
    assert any("RE2" in issue.message for issue in issues), issues
