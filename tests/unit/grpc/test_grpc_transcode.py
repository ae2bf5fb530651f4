"""REST/JSON -> request message and reply -> JSON for the demo Library service, per the google.api.http rules."""

from __future__ import annotations

import json

import pytest

from portico.core.grpc.descriptors import Binding, MethodInfo, binding_of, find_method, load_set
from portico.core.grpc.transcode import BadRequest, ReplyFormat, Transcoder


def transcoder(data: bytes, method: str, **kwargs: object) -> Transcoder:
    info = find_method(load_set(data), "portico.demo.v1.Library", method)
    return Transcoder(info, info.annotated, **kwargs)  # type: ignore[arg-type]


def fill(t: Transcoder, method: str, path: str, query: str = "", body: bytes = b"") -> dict[str, object]:
    found = t.select(method, path)
    assert not isinstance(found, frozenset), found
    binding, values = found
    pairs = [tuple(p.split("=", 1)) for p in query.split("&") if p]
    message = t.request_message(binding, values, pairs, body)  # type: ignore[arg-type]
    from google.protobuf import json_format

    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def test_annotations_are_read_from_the_descriptor_set(descriptor_bytes: bytes) -> None:
    info: MethodInfo = find_method(load_set(descriptor_bytes), "portico.demo.v1.Library", "UpdateBook")
    assert [(b.http_method, str(b.template), b.body) for b in info.annotated] == [
        ("PATCH", "/v1/{book.name=shelves/*/books/*}", "book")
    ]
    assert info.path == "/portico.demo.v1.Library/UpdateBook" and not info.server_streaming


def test_path_and_query_fill_fields_with_types(descriptor_bytes: bytes) -> None:
    t = transcoder(descriptor_bytes, "GetBook")
    got = fill(t, "GET", "/v1/shelves/fiction/books/7", "view=FULL&tags=a&tags=b")
    assert got == {"shelf": "fiction", "id": "7", "view": "FULL", "tags": ["a", "b"]}


def test_path_wins_over_query_for_the_same_field(descriptor_bytes: bytes) -> None:
    got = fill(transcoder(descriptor_bytes, "GetBook"), "GET", "/v1/shelves/fiction/books/7", "shelf=other")
    assert got["shelf"] == "fiction"


def test_body_sub_field_plus_path_plus_query(descriptor_bytes: bytes) -> None:
    body = json.dumps({"title": "Dune", "pageCount": 412, "author": {"displayName": "F. Herbert"}}).encode()
    got = fill(transcoder(descriptor_bytes, "CreateBook"), "POST", "/v1/shelves/sf/books", "request_id=r-1", body)
    assert got == {
        "shelf": "sf",
        "request_id": "r-1",
        "book": {"title": "Dune", "page_count": 412, "author": {"display_name": "F. Herbert"}},
    }


def test_nested_path_variable_lands_inside_the_body_field(descriptor_bytes: bytes) -> None:
    got = fill(transcoder(descriptor_bytes, "UpdateBook"), "PATCH", "/v1/shelves/sf/books/3", "", b'{"title":"X"}')
    assert got == {"book": {"name": "shelves/sf/books/3", "title": "X"}}


def test_whole_body_star(descriptor_bytes: bytes) -> None:
    body = b'{"text":"hi","number":"12","items":["a"],"labels":{"k":"v"}}'
    got = fill(transcoder(descriptor_bytes, "Echo"), "POST", "/v1/echo", "", body)
    assert got == {"text": "hi", "number": "12", "items": ["a"], "labels": {"k": "v"}}


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "named"),
    [
        ("POST", "/v1/shelves/s/books", "", b'{"pageCount": "many"}', "field 'book.pageCount'"),
        ("POST", "/v1/shelves/s/books", "", b'{"title": 5}', "title"),
        ("POST", "/v1/shelves/s/books", "", b'{"author": {"bornYear": "x"}}', "field 'book.author.bornYear'"),
        ("POST", "/v1/shelves/s/books", "", b'{"colour": "red"}', "colour"),
        ("POST", "/v1/shelves/s/books", "", b'{"genre": "POETRY"}', "genre"),
        ("POST", "/v1/shelves/s/books", "", b'{"title": "x",', "not valid JSON"),
        ("POST", "/v1/shelves/s/books", "", b"\xff\xfe", "UTF-8"),
        ("GET", "/v1/shelves/s/books/notanumber", "", b"", "id"),
        ("GET", "/v1/shelves/s/books/1", "view=SIDEWAYS", b"", "view"),
        ("GET", "/v1/shelves/s/books/1", "colour=red", b"", "colour"),
        ("GET", "/v1/shelves/s/books/1", "view=FULL&view=BASIC", b"", "view"),
        ("GET", "/v1/shelves/s/books/1", "", b'{"x":1}', "takes no request body"),
        ("POST", "/v1/shelves/s/books", "book.title=x", b"{}", "book.title"),
        ("POST", "/v1/echo", "", b"[1,2]", "JSON object"),
        ("POST", "/v1/echo", "text=x", b"{}", "text"),
    ],
)
def test_input_that_does_not_fit_names_the_field(
    descriptor_bytes: bytes, method: str, path: str, query: str, body: bytes, named: str
) -> None:
    rpc = {"/v1/echo": "Echo"}.get(path, "GetBook" if method == "GET" else "CreateBook")
    with pytest.raises(BadRequest, match=named):
        fill(transcoder(descriptor_bytes, rpc), method, path, query, body)


def test_unknown_query_parameters_may_be_ignored(descriptor_bytes: bytes) -> None:
    t = transcoder(descriptor_bytes, "GetBook", ignore_unknown_query=True)
    assert fill(t, "GET", "/v1/shelves/s/books/1", "utm_source=x") == {"shelf": "s", "id": "1"}


def test_select_reports_allowed_methods_and_misses(descriptor_bytes: bytes) -> None:
    t = transcoder(descriptor_bytes, "GetBook")
    assert t.select("POST", "/v1/shelves/s/books/1") == frozenset({"GET"})
    assert t.select("GET", "/v2/nothing") == frozenset()


def test_reply_uses_proto3_json_mapping_by_default(descriptor_bytes: bytes) -> None:
    t = transcoder(descriptor_bytes, "GetBook")
    reply = t.info.reply_class(name="shelves/s/books/1", id=1, page_count=0)
    binding = t.bindings[0]
    assert t.reply_json(reply.SerializeToString(), binding) == {"name": "shelves/s/books/1", "id": "1"}
    proto = Transcoder(t.info, t.bindings, ReplyFormat(proto_field_names=True, emit_unpopulated=True))
    out = proto.reply_json(reply.SerializeToString(), binding)
    assert out["page_count"] == 0 and out["tags"] == [] and "pageCount" not in out


def test_response_body_picks_one_field(descriptor_bytes: bytes) -> None:
    info = find_method(load_set(descriptor_bytes), "portico.demo.v1.Library", "GetBook")
    binding: Binding = binding_of("get", "/b/{shelf}/{id}", None, "author")
    t = Transcoder(info, [binding])
    reply = info.reply_class(id=1)
    reply.author.display_name = "A"  # type: ignore[attr-defined]
    assert t.reply_json(reply.SerializeToString(), binding) == {"displayName": "A"}
