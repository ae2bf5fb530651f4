"""The bounded JSON/YAML loaders: nesting, size and alias expansion are refused with UntrustedInputError only."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portico.core.untrusted import (
    MAX_DEPTH,
    UntrustedInputError,
    json_depth_exceeds,
    load_json,
    load_yaml,
    load_yaml_all,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=30,
)


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


@given(json_values)
@settings(deadline=None)  # a machine shared by many test runs: the bound is the work, not the clock
def test_every_shallow_document_round_trips(value: object) -> None:
    assert load_json(json.dumps(value)) == value


@given(st.integers(min_value=1, max_value=200), st.sampled_from(["[", '{"a":']), st.booleans())
@settings(max_examples=60, deadline=None)
def test_the_depth_scan_agrees_with_the_real_depth(depth: int, opener: str, closed: bool) -> None:
    closer = "]" if opener == "[" else "}"
    text = opener * depth + "1" + (closer * depth if closed else "")
    if depth <= MAX_DEPTH and closed:
        assert _depth(load_json(text)) == depth
    else:
        with pytest.raises(UntrustedInputError):
            load_json(text)


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"a": "[" * 10_000, "b": ['\\"{' * 100]})
    assert not json_depth_exceeds(text, 8)
    assert load_json(text)["a"] == "[" * 10_000


@pytest.mark.parametrize(
    "data",
    [
        '{"a":' * 5000 + "1" + "}" * 5000,
        "[" * 100_000,
        "]" * 10 + "[" * 100,
        b"\xff\xfe[1]",
        "NaN",
        "[Infinity]",
        "1" + "0" * 5000,
        "",
        "{",
    ],
)
def test_hostile_json_raises_only_the_products_error(data: str | bytes) -> None:
    with pytest.raises(UntrustedInputError):
        load_json(data)


def test_oversized_json_is_refused_before_parsing() -> None:
    with pytest.raises(UntrustedInputError, match="larger than 100 bytes"):
        load_json("[" + "1," * 100 + "1]", max_bytes=100)


@pytest.mark.parametrize(
    "text",
    ["[" * 3_000_000 + "]" * 3_000_000, ("[{}" * 80 + "]" * 80) * 25_000, '[{"a":' * 100 + "1" + "}]" * 100],
)
def test_a_deep_lambda_sized_body_is_refused(text: str) -> None:
    assert json_depth_exceeds(text, MAX_DEPTH)
    with pytest.raises(UntrustedInputError, match="nests deeper"):
        load_json(text, max_bytes=len(text))


LAUGHS = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{n}: &{n} [{', '.join(['*' + p] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 5000,
        "a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 200)) + "  " * 200 + "v",
        "- " * 500 + "x",
        "a: &a [*a]",
        LAUGHS,
        "a: [",
        "a: !!python/object/apply:os.system ['true']",
        "\x00",
        "a: " + "1" * 5000,  # an int over Python's digit limit
    ],
)
def test_hostile_yaml_raises_only_the_products_error(text: str) -> None:
    with pytest.raises(UntrustedInputError):
        load_yaml_all(text)


def test_yaml_aliases_within_bounds_still_work() -> None:
    loaded = load_yaml("base: &b {x: 1}\nother: *b\nmerged: {<<: *b, y: 2}\n")
    assert loaded == {"base": {"x": 1}, "other": {"x": 1}, "merged": {"x": 1, "y": 2}}


def test_yaml_errors_name_the_line() -> None:
    with pytest.raises(UntrustedInputError, match=r"line 3, column \d+: the YAML nests deeper"):
        load_yaml_all("ok: 1\n---\n" + "[" * 100, max_depth=10)


bmp_text = st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",)), max_size=8)
yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | bmp_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(bmp_text, inner, max_size=4),
    max_leaves=30,
)


@given(st.lists(yaml_values, max_size=3))
@settings(max_examples=50, deadline=None)
def test_yaml_reads_what_json_writes(values: list[object]) -> None:
    # JSON is YAML 1.2; escaped (ensure_ascii) so that YAML's refusal of raw control characters does not apply
    text = "\n---\n".join(json.dumps(v) for v in values)
    assert load_yaml_all(text) == [v for v in values] if values else load_yaml_all(text) == []
