"""google.api.http path templates: parsing per the grammar and matching request paths."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portico.core.grpc.httprule import PathTemplate, TemplateError


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("/v1/shelves/{shelf}/books/{id}", "/v1/shelves/fiction/books/7", {"shelf": "fiction", "id": "7"}),
        ("/v1/{name=shelves/*/books/*}", "/v1/shelves/s1/books/b2", {"name": "shelves/s1/books/b2"}),
        ("/v1/{book.name=shelves/*/books/*}", "/v1/shelves/a/books/b", {"book.name": "shelves/a/books/b"}),
        ("/v1/files/{path=**}", "/v1/files/a/b/c.txt", {"path": "a/b/c.txt"}),
        ("/v1/files/{path=**}", "/v1/files", {"path": ""}),
        ("/v1/things/{id}:cancel", "/v1/things/9:cancel", {"id": "9"}),
        ("/v1/echo", "/v1/echo", {}),
        ("/v1/*/x/{y}", "/v1/anything/x/2", {"y": "2"}),
        ("/v1/shelves/{shelf}", "/v1/shelves/caf%C3%A9%20bar", {"shelf": "café bar"}),
    ],
)
def test_matches_and_extracts(template: str, path: str, expected: dict[str, str]) -> None:
    assert PathTemplate.parse(template).match(path) == expected


@pytest.mark.parametrize(
    ("template", "path"),
    [
        ("/v1/shelves/{shelf}/books/{id}", "/v1/shelves/fiction/books"),
        ("/v1/shelves/{shelf}/books/{id}", "/v1/shelves/fiction/books/7/extra"),
        ("/v1/shelves/{shelf}", "/v1/shelves/"),  # '*' needs a non-empty segment
        ("/v1/{name=shelves/*/books/*}", "/v1/shelves/s1/tomes/b2"),
        ("/v1/things/{id}:cancel", "/v1/things/9"),
        ("/v1/things/{id}:cancel", "/v1/things/9:undo"),
        ("/v1/echo", "/v2/echo"),
    ],
)
def test_does_not_match(template: str, path: str) -> None:
    assert PathTemplate.parse(template).match(path) is None


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("v1/x", "must start with '/'"),
        ("/v1/{a/b}", "is not a field path"),
        ("/v1/{x=**}/tail", "'**' may only be the last segment"),
        ("/v1/{x}/{x}", "more than once"),
        ("/v1/{x", "unclosed"),
        ("/v1/x}", "unbalanced"),
        ("/v1/a{x}", "whole segment"),
        ("/v1//x", "empty segment"),
        ("/v1/{a={b}}", "cannot nest"),
        ("/v1/x:", "bad verb"),
        ("/v1/{1x}", "is not a field path"),
    ],
)
def test_rejects_bad_templates(template: str, reason: str) -> None:
    with pytest.raises(TemplateError, match=re.escape(reason)):
        PathTemplate.parse(template)


_SEGMENT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=8)


@given(st.lists(_SEGMENT, min_size=1, max_size=4), st.lists(_SEGMENT, min_size=0, max_size=4))
def test_a_double_star_variable_takes_exactly_the_rest(prefix: list[str], rest: list[str]) -> None:
    template = PathTemplate.parse("/" + "/".join(prefix) + "/{rest=**}")
    assert template.match("/" + "/".join(prefix + rest)) == {"rest": "/".join(rest)}
