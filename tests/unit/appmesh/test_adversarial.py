"""Hand-corrupted App Mesh input: any value replaced by any other type gives a clear ImportFailure, never a crash."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from portico.core.appmesh.errors import ImportFailure
from portico.core.appmesh.inputs import Resource, resources_in
from portico.core.appmesh.source import load_text
from portico.core.appmesh.translate import translate
from tests.unit.appmesh.support import FIXTURES, assert_valid, resources

BASE = resources([FIXTURES / "colorapp.yaml", FIXTURES / "describe-route.json"])
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**20),
    st.text(max_size=8),
    st.just([]),
    st.just({}),
    st.just([1, "x"]),
    st.just({"value": -1, "unit": "h"}),
    st.just([{"name": 3}]),
)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*path, i))
    return found


def _corrupt(res: Resource, path: tuple[Any, ...], junk: Any) -> Resource:
    spec = copy.deepcopy(res.spec)
    if not path:
        return replace(res, spec=junk)  # type: ignore[arg-type]
    node: Any = spec
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = junk
    return replace(res, spec=spec)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_corrupted_field_is_a_clear_error_or_still_valid(data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(BASE) - 1))
    target = BASE[index]
    path = data.draw(st.sampled_from(_paths(target.spec)))
    corrupted = [*BASE[:index], _corrupt(target, path, data.draw(JUNK)), *BASE[index + 1 :]]
    try:
        result = translate(corrupted)
    except ImportFailure as exc:
        assert exc.file and exc.message, exc
        return
    assert_valid(result)


RAW = [
    (str(FIXTURES / name), load_text(name, (FIXTURES / name).read_text()))
    for name in ("colorapp.yaml", "describe-route.json", "colorteller-route-black-80-blue-20.json")
]
INTRINSIC_JUNK = st.one_of(
    JUNK,
    st.sampled_from(
        [
            {"Ref": 5},
            {"Fn::Sub": []},
            {"Fn::Sub": ["${a}", 3]},
            {"Fn::GetAtt": "A"},
            {"Fn::Join": 3},
            {"Fn::If": ["C", 1]},
            {"Fn::Select": ["x", [1]]},
            {"Fn::FindInMap": [1, 2, 3]},
            {"Condition": 1},
            {"Fn::ImportValue": {"Fn::Sub": "x"}},
            {"Ref": "AWS::Region"},
        ]
    ),
)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_corrupted_template_or_cli_input_is_a_clear_error_or_still_valid(data: st.DataObject) -> None:
    """The same at the raw level: templates (intrinsics, Parameters, Properties) and CLI/describe envelopes."""
    file, raw = data.draw(st.sampled_from(RAW))
    corrupted: Any = copy.deepcopy(raw)
    path = data.draw(st.sampled_from(_paths(raw)))
    junk = data.draw(INTRINSIC_JUNK)
    if not path:
        corrupted = junk
    else:
        node = corrupted
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = junk
    try:
        result = translate([*BASE, *resources_in(file, corrupted, {})])
    except ImportFailure as exc:
        assert exc.file and exc.message, exc
        return
    assert_valid(result)
