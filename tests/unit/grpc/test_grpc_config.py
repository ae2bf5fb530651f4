"""Config-time validation of grpc upstreams: the descriptor set, service, method, mapping fields and target."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from portico.controlplane import read_files
from portico.core.config.context import ValidationSettings
from portico.core.config.documents import Route, to_mapping
from portico.core.config.loader import ConfigError, parse_documents

LOOPBACK = ValidationSettings(allow_loopback=True)


def route(grpc: str) -> str:
    return f"""apiVersion: portico/v1
kind: Route
metadata: {{name: r}}
spec:
  match: {{pathPrefix: /v1}}
  auth: {{none: {{}}}}
  upstream:
    grpc: {{{grpc}}}
"""


def inline(data: bytes, rest: str = "") -> str:
    b64 = base64.b64encode(data).decode()
    return route(f"descriptorSetBytes: {b64}, target: '127.0.0.1:5', tls: {{enabled: false}}, {rest}")


def errors(text: str, settings: ValidationSettings = LOOPBACK) -> str:
    _, issues = parse_documents(text, file="f.yaml", settings=settings)
    return "\n".join(str(i) for i in issues)


def test_valid_inline_descriptor_set(descriptor_bytes: bytes) -> None:
    docs, issues = parse_documents(
        inline(descriptor_bytes, "service: portico.demo.v1.Library, method: GetBook"), settings=LOOPBACK
    )
    assert issues == [] and isinstance(docs[0], Route)


@pytest.mark.parametrize(
    ("rest", "message"),
    [
        (
            "service: portico.demo.v1.Library, method: GetBok",
            "method 'GetBok' is not in service portico.demo.v1.Library; did you mean 'GetBook'?",
        ),
        ("service: Library, method: GetBook", "did you mean 'portico.demo.v1.Library'?"),
        ("service: portico.demo.v1.Library, method: GetBook, stream: ndjson", "stream applies to server-streaming"),
        (
            "service: portico.demo.v1.Library, method: GetBook, http: {get: '/b/{shelf}/{isbn}'}",
            "portico.demo.v1.GetBookRequest has no field 'isbn'",
        ),
        (
            "service: portico.demo.v1.Library, method: CreateBook, http: {post: '/b', body: cover}",
            "body names 'cover'",
        ),
        ("service: portico.demo.v1.Library, method: GetBook, http: {get: '/b/{tags}'}", "singular scalar"),
        ("service: portico.demo.v1.Library, method: GetBook, http: {get: 'b/{id}'}", "must start with '/'"),
        ("service: portico.demo.v1.Library, method: GetBook, http: {get: /a, post: /b}", "exactly one of get"),
    ],
)
def test_what_the_route_asks_must_exist(descriptor_bytes: bytes, rest: str, message: str) -> None:
    assert message in errors(inline(descriptor_bytes, rest))


def test_a_descriptor_set_that_does_not_parse(descriptor_bytes: bytes) -> None:
    text = route("descriptorSetBytes: bm90IGEgZGVzY3JpcHRvcg==, service: a.B, method: C, target: 'h:1'")
    assert "does not parse as a FileDescriptorSet" in errors(text)
    assert "not valid base64" in errors(route("descriptorSetBytes: '!!', service: a.B, method: C, target: 'h:1'"))


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("169.254.169.254:50051", "link-local, metadata"),
        ("[::ffff:169.254.169.254]:50051", "link-local, metadata"),
        ("metadata.google.internal:80", "metadata host name"),
        ("grpc.example.com", "must be host:port"),
        ("http://grpc.example.com:443", "must be host:port"),
        ("user@grpc.example.com:443", "without scheme, path or userinfo"),
    ],
)
def test_target_passes_the_ssrf_rules(descriptor_bytes: bytes, target: str, message: str) -> None:
    text = inline(descriptor_bytes, "service: portico.demo.v1.Library, method: GetBook").replace(
        "'127.0.0.1:5'", f"'{target}'"
    )
    assert message in errors(text)


def test_loopback_target_needs_the_dev_allowance(descriptor_bytes: bytes) -> None:
    text = inline(descriptor_bytes, "service: portico.demo.v1.Library, method: GetBook")
    assert "loopback" in errors(text, ValidationSettings())
    assert errors(text, LOOPBACK) == ""


def test_descriptor_set_path_is_read_next_to_the_yaml_and_stored_as_bytes(
    tmp_path: Path, descriptor_path: Path
) -> None:
    (tmp_path / "protos").mkdir()
    (tmp_path / "protos" / "lib.pb").write_bytes(descriptor_path.read_bytes())
    config = tmp_path / "routes.yaml"
    config.write_text(
        route("descriptorSet: protos/lib.pb, service: portico.demo.v1.Library, method: GetBook, target: 'h:1'")
    )
    (doc,) = read_files([config], ValidationSettings())
    stored = to_mapping(doc)["spec"]["upstream"]["grpc"]
    raw = base64.b64decode(stored["descriptorSetBytes"])
    assert stored["descriptorSet"] == "protos/lib.pb"
    assert 0 < len(raw) < len(descriptor_path.read_bytes())  # source info stripped before storing
    # What is stored validates again without any file (as the edge reads it from the config table).
    docs, issues = parse_documents(_yaml(to_mapping(doc)), settings=ValidationSettings())
    assert issues == [] and docs[0] == doc


def test_descriptor_set_path_errors(tmp_path: Path) -> None:
    config = tmp_path / "routes.yaml"
    config.write_text(route("descriptorSet: missing.pb, service: a.B, method: C, target: 'h:1'"))
    with pytest.raises(ConfigError, match=r"descriptorSet 'missing\.pb' cannot be read"):
        read_files([config], ValidationSettings())
    text = route("descriptorSet: x.pb, service: a.B, method: C, target: 'h:1'")
    assert "only a YAML file being read can resolve" in errors(text)


def _yaml(mapping: dict[str, object]) -> str:
    import yaml

    return yaml.safe_dump(mapping)
