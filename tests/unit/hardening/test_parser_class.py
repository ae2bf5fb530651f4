"""Issue 20 defect 1's class: every parser entry point of the product, fed nested, oversized and malformed JSON and
YAML, raises nothing but the product's own errors (a RecursionError, OverflowError or yaml error never escapes).

`test_every_parse_site_is_bounded` finds parse calls by their syntax tree, so a new `json.loads` or `yaml.load`
on untrusted input fails here until it goes through portico.core.untrusted (or is listed with why it is trusted).
"""

from __future__ import annotations

import ast
import asyncio
import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portico.adapters.dynamodb.config_store import _to_snapshot
from portico.adapters.dynamodb.registry_store import _from_item
from portico.adapters.file_config_store import FileConfigStore
from portico.adapters.lambda_invoker import BotoLambdaInvoker
from portico.core.appmesh.source import load_text
from portico.core.auth.jwks_cache import JwksCache, JwksResponse
from portico.core.auth.jws import parse_token
from portico.core.compose.transform import RequestTransformer, ResponseTransformer
from portico.core.config.compose import RequestTransform, ResponseTransform
from portico.core.config.loader import parse_documents
from portico.core.config.protection import Validation
from portico.core.headers import Headers
from portico.core.http import Request, Response
from portico.core.validation.request import RequestValidator
from portico.edge.dispatch.aggregate import _outcome

ROOT = Path(__file__).resolve().parents[3]

# Parse calls that read only what Portico wrote itself, with why.
TRUSTED = {
    ("shared/portico/cli/graph_cmds.py", "json.loads"): "the state file `portico dev up` wrote",
    ("shared/portico/adapters/aws_json.py", "json.loads"): (
        "AWS service answers from the SDK-configured endpoint, parsed as boto3 parses them; the config items inside "
        "are strings, bounded by load_json when they are decoded"
    ),
    ("shared/portico/core/portal/session.py", "json.loads"): "a sealed session: authenticated before it is parsed",
    ("shared/portico/mesh/certworker.py", "json.loads"): "the sidecar and its own certificate worker, over a pipe",
    ("shared/portico/core/grpc/transcode.py", "json_format.ParseDict"): "a dict load_json already bounded",
}
PARSERS = {"json.loads", "json.load", "yaml.load", "yaml.safe_load", "yaml.load_all", "yaml.safe_load_all",
           "yaml.full_load", "yaml.unsafe_load", "json_format.Parse", "json_format.ParseDict", "pickle.loads",
           "marshal.loads"}  # fmt: skip


def _parse_calls() -> set[tuple[str, str]]:
    found = set()
    for folder in ("shared/portico", "functions"):
        for path in (ROOT / folder).rglob("*.py"):
            rel = str(path.relative_to(ROOT))
            if rel == "shared/portico/core/untrusted.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    owner = node.func.value
                    if isinstance(owner, ast.Name) and f"{owner.id}.{node.func.attr}" in PARSERS:
                        found.add((rel, f"{owner.id}.{node.func.attr}"))
    return found


def test_every_parse_site_is_bounded() -> None:
    unlisted = _parse_calls() - TRUSTED.keys()
    assert not unlisted, "parse untrusted input with portico.core.untrusted.load_json/load_yaml_all"
    assert TRUSTED.keys() <= _parse_calls(), "a listed trusted parse site is gone: remove it from TRUSTED"


def _is_products(exc: BaseException) -> bool:
    return any(cls.__module__.startswith("portico.") for cls in type(exc).__mro__)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


RS256_HEADER = _b64(b'{"alg":"RS256"}')


async def _jwks(data: bytes) -> None:
    class Fetcher:
        async def fetch(self, url: str) -> JwksResponse:
            return JwksResponse(data, None)

    cache = JwksCache("https://idp.test/jwks", Fetcher(), frozenset({"RS256"}))
    assert await cache.refresh(0.0) is False  # refused, logged, stale keys kept


class _Payload:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self) -> bytes:
        return self._data


class _Lambda:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        return {"Payload": _Payload(self.data), "StatusCode": 200}


JSON_REQUEST = Headers([("content-type", "application/json")])
REQUEST_TRANSFORM = RequestTransformer(RequestTransform.model_validate({"body": {"jmespath": "a"}}))
VALIDATOR = RequestValidator(
    Validation.model_validate({"body": {"schema": {"type": "object", "properties": {"a": {"pattern": "^(a+)+$"}}}}})
)
RESPONSE_TRANSFORM = ResponseTransformer(ResponseTransform.model_validate({"body": {"jmespath": "a"}}))


def _file_store(data: bytes, folder: Path) -> None:
    path = folder / "config.yaml"
    path.write_bytes(data)
    FileConfigStore([path]).snapshot()


ENTRY_POINTS: dict[str, Callable[[bytes, Path], object]] = {
    "portico validate/apply (YAML files)": lambda d, _: parse_documents(d.decode("utf-8", "replace")),
    "config table items": lambda d, _: _to_snapshot(
        1, [{"kind": {"S": "Route"}, "name": {"S": "x"}, "body": {"S": d.decode("utf-8", "replace")}}]
    ),
    "config files (PORTICO_CONFIG_FILE)": _file_store,
    "JWT header": lambda d, _: parse_token(f"{_b64(d)}.{_b64(b'{}')}.c2ln"[:8192]),
    "JWT payload": lambda d, _: parse_token(f"{RS256_HEADER}.{_b64(d)}.c2ln"[:8192]),
    "JWKS documents": lambda d, _: asyncio.run(_jwks(d)),
    "request bodies for transforms": lambda d, _: REQUEST_TRANSFORM.apply(
        Request("POST", "/", headers=JSON_REQUEST, body=d), {}
    ),
    "upstream answers for transforms": lambda d, _: RESPONSE_TRANSFORM.apply(Response(200, JSON_REQUEST, d)),
    "request bodies for validation": lambda d, _: VALIDATOR.check({}, [], [("content-type", "application/json")], d),
    "aggregate parts": lambda d, _: _outcome("part", Response(200, JSON_REQUEST, d)),
    "Lambda payloads": lambda d, _: BotoLambdaInvoker(_Lambda(d))._invoke_sync("fn", None, {}),
    "registry labels": lambda d, _: _from_item(
        {"service": {"S": "s"}, "instanceId": {"S": "i"}, "labels": {"S": d.decode("utf-8", "replace")}}
    ),
    "portico import appmesh": lambda d, _: load_text("mesh.yaml", d.decode("utf-8", "replace")),
}


def _nested(depth: int, opener: str, closed: bool) -> bytes:
    closers = {"[": "]", '{"a":': "}", "- ": "", "a:\n  ": ""}
    body = opener * depth + "1" + (closers[opener] * depth if closed else "")
    return body.encode()


LAUGHS = ("a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{n}: &{n} [{', '.join(['*' + p] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)).encode()  # fmt: skip

hostile = st.one_of(
    st.builds(_nested, st.integers(65, 3000), st.sampled_from(["[", '{"a":', "- ", "a:\n  "]), st.booleans()),
    st.sampled_from(
        [
            LAUGHS,
            b"a: &a [*a]",
            b"1" + b"0" * 5000,
            b'{"exp": 1' + b"0" * 400 + b"}",
            b"\xef\xbb\xbf{}",
            b"[NaN, Infinity]",
            b"\x00\xff\xfe",
            b'{"a": "\\ud800"}',
            b"!!python/object/apply:os.system ['true']",
        ]
    ),
    st.binary(max_size=300),
    st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
)


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=str)
@given(data=hostile)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_hostile_input_meets_only_the_products_errors(entry: str, data: bytes, tmp_path: Path) -> None:
    try:
        ENTRY_POINTS[entry](data, tmp_path)
    except Exception as exc:
        assert _is_products(exc), f"{entry}: {type(exc).__module__}.{type(exc).__name__}: {exc}"


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=str)
def test_oversized_input_meets_only_the_products_errors(entry: str, tmp_path: Path) -> None:
    data = b"[" + b"1," * (5 * 1024 * 1024) + b"1]"  # 10 MiB: over every limit (6 MiB bodies, 8 MiB YAML files)
    try:
        ENTRY_POINTS[entry](data, tmp_path)
    except Exception as exc:
        assert _is_products(exc), f"{entry}: {type(exc).__module__}.{type(exc).__name__}: {exc}"


def test_a_deep_config_item_is_skipped_not_raised() -> None:
    deep = '{"a":' * 5000 + "1" + "}" * 5000
    snapshot = _to_snapshot(1, [{"kind": {"S": "Route"}, "name": {"S": "deep"}, "body": {"S": deep}}])
    assert [str(s) for s in snapshot.skipped] == [
        "Route/deep: body nests deeper than 64 levels, or its brackets do not balance"
    ]
    assert json.loads("[1]") == [1]  # (the trusted parser itself is fine on data we wrote)
