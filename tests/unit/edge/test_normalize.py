"""Path normalisation: the acceptance traversal cases, rejections, and Hypothesis properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portico.core.routing.normalize import PathRejected, normalize_path


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/public/../admin/x", "/admin/x"),
        ("//admin/x", "/admin/x"),
        ("/%61dmin/x", "/admin/x"),
        ("/public/%2e%2E/admin", "/admin"),
        ("/a/./b/", "/a/b/"),
        ("/..", "/"),
        ("/a%3ab", "/a%3Ab"),
        ("/caf\u00e9", "/caf%C3%A9"),
    ],
)
def test_normalises(raw: str, expected: str) -> None:
    assert normalize_path(raw) == expected


@pytest.mark.parametrize(
    "raw", ["/public/..%2Fadmin/x", "/a%2fb", "/a\\b", "/a%5Cb", "/a%00b", "/a\x00b", "/a%zz", "x"]
)
def test_rejects(raw: str) -> None:
    with pytest.raises(PathRejected) as err:
        normalize_path(raw)
    assert err.value.status == 400


def test_overlong_path_is_414() -> None:
    with pytest.raises(PathRejected) as err:
        normalize_path("/" + "a" * 9000)
    assert err.value.status == 414


_segment = st.one_of(
    st.sampled_from(["..", ".", "", "%2e%2e", "%2E", "admin", "%61", "a%3ab", "%7E"]),
    st.text(alphabet="abc.%/~-_:@2eE", max_size=6),
)
_paths = st.lists(_segment, max_size=8).map(lambda segs: "/" + "/".join(segs))


@given(_paths)
def test_idempotent(raw: str) -> None:
    try:
        once = normalize_path(raw)
    except PathRejected:
        return
    assert normalize_path(once) == once


@given(_paths)
def test_output_has_no_dot_segments_or_empty_inner_segments(raw: str) -> None:
    try:
        out = normalize_path(raw)
    except PathRejected:
        return
    inner = out[1:].split("/")[:-1]
    assert out.startswith("/")
    assert all(seg not in (".", "..", "") for seg in inner)
    assert out.split("/")[-1] not in (".", "..")


@given(st.lists(st.sampled_from(["x", "y", "%61", "a%3ab", "~"]), max_size=5))
def test_traversal_never_escapes_without_dot_segments(segs: list[str]) -> None:
    # a path under /public whose own segments hold no dot-segments stays under /public
    assert normalize_path("/public/" + "/".join(segs)).startswith("/public")
