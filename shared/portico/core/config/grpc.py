"""The grpc upstream kind: a method in a compiled descriptor set, its target, TLS and the HTTP mapping to it.

`descriptorSet` is a file path read when the YAML is read (`portico validate|apply`, dev up), relative to that
YAML file; its bytes (without source info) are stored as `descriptorSetBytes`, so the edge needs no file. When
both are present, the bytes are used and the path is kept only as a note of where they came from. Everything the
route asks of the descriptors (service, method, fields of the HTTP mapping) is checked here, at config time.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from portico.core.config.base import Duration, Model
from portico.core.config.context import settings_from
from portico.core.netguard import ForbiddenDestination, check_host

if TYPE_CHECKING:
    from portico.core.grpc.descriptors import Binding, MethodInfo

MAX_DESCRIPTOR_BYTES = 256 * 1024  # stored in one config item; DynamoDB items are at most 400 KB
LAMBDA_RESPONSE_BYTES = 6 * 1024 * 1024


def _decode_b64(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise ValueError("descriptorSetBytes is a base64 string")
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"descriptorSetBytes is not valid base64: {exc}") from None


Base64 = Annotated[
    bytes,
    BeforeValidator(_decode_b64),
    PlainSerializer(lambda b: base64.b64encode(b).decode("ascii"), return_type=str),
    WithJsonSchema({"type": "string", "contentEncoding": "base64"}),
]


def check_target(target: str, *, allow_loopback: bool) -> None:
    """`host:port` or `[v6]:port`; the host passes the same SSRF rules as http upstream URLs."""
    host, sep, port = target.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"target {target!r} must be host:port (for IPv6, [address]:port)")
    if any(c in host for c in "/@?#") or (":" in host and not (host.startswith("[") and host.endswith("]"))):
        raise ValueError(f"target {target!r} must be host:port, without scheme, path or userinfo")
    try:
        check_host(host, allow_loopback=allow_loopback)
    except ForbiddenDestination as exc:
        raise ValueError(f"upstream refused: {exc}") from exc


def _read(info: ValidationInfo, path: str, what: str) -> bytes:
    reader = settings_from(info).read_file
    if reader is None:
        raise ValueError(f"{what} {path!r} is a file path, which only a YAML file being read can resolve")
    try:
        return reader(path)
    except OSError as exc:
        raise ValueError(f"{what} {path!r} cannot be read: {exc.strerror or exc}") from None


class GrpcTls(Model):
    """TLS to the target, on by default. `caFile` is read like `descriptorSet` and stored as `ca` (PEM)."""

    enabled: bool = True
    ca: str | None = None
    ca_file: str | None = None
    server_name: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _embed_ca(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict) and data.get("caFile") and not data.get("ca"):
            pem = _read(info, str(data["caFile"]), "caFile")
            data = {**data, "ca": pem.decode("utf-8", "replace")}
        return data

    @model_validator(mode="after")
    def _ca_is_pem(self) -> GrpcTls:
        if self.ca is not None and "-----BEGIN CERTIFICATE-----" not in self.ca:
            raise ValueError("ca must hold PEM certificates (-----BEGIN CERTIFICATE-----)")
        if not self.enabled and (self.ca or self.server_name):
            raise ValueError("ca and serverName need tls.enabled: true")
        return self


class GrpcHttpRule(Model):
    """One google.api.http rule written in the route: exactly one verb with its path template."""

    get: str | None = None
    put: str | None = None
    post: str | None = None
    delete: str | None = None
    patch: str | None = None
    body: str | None = None
    response_body: str | None = None

    @model_validator(mode="after")
    def _one_verb(self) -> GrpcHttpRule:
        verbs = [v for v in ("get", "put", "post", "delete", "patch") if getattr(self, v) is not None]
        if len(verbs) != 1:
            raise ValueError("give exactly one of get, put, post, delete, patch with a path template")
        return self

    @property
    def verb(self) -> str:
        return next(v for v in ("get", "put", "post", "delete", "patch") if getattr(self, v) is not None)


class ReplyJson(Model):
    """How replies print (Envoy's print options). The default is the proto3 JSON mapping: lowerCamelCase names."""

    proto_field_names: bool = False
    emit_unpopulated: bool = False
    enums_as_ints: bool = False


class GrpcUpstream(Model):
    descriptor_set: str | None = None
    descriptor_set_bytes: Base64 | None = None
    service: str = Field(min_length=1)
    method: str = Field(min_length=1)
    target: str
    tls: GrpcTls = Field(default_factory=GrpcTls)
    timeout: Duration = 15.0
    http: GrpcHttpRule | None = None
    stream: Literal["array", "ndjson"] | None = None
    reply_json: ReplyJson = Field(default_factory=ReplyJson)
    ignore_unknown_query_parameters: bool = False
    max_response_bytes: int = Field(default=LAMBDA_RESPONSE_BYTES, ge=1, le=LAMBDA_RESPONSE_BYTES)

    @model_validator(mode="before")
    @classmethod
    def _embed_descriptor_set(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict) and data.get("descriptorSet") and not data.get("descriptorSetBytes"):
            raw = _read(info, str(data["descriptorSet"]), "descriptorSet")
            try:
                from portico.core.grpc.descriptors import DescriptorError, strip_source_info  # lazy: protobuf
            except ImportError:
                raise ValueError("grpc upstreams need the portico[grpc] extra (grpcio, protobuf) installed") from None
            try:
                data = {**data, "descriptorSetBytes": strip_source_info(raw)}
            except DescriptorError as exc:
                raise ValueError(f"descriptorSet {data['descriptorSet']!r}: {exc}") from None
        return data

    @field_validator("target")
    @classmethod
    def _safe_target(cls, value: str, info: ValidationInfo) -> str:
        check_target(value, allow_loopback=settings_from(info).allow_loopback)
        return value

    @model_validator(mode="after")
    def _fits_descriptors(self) -> GrpcUpstream:
        if self.descriptor_set_bytes is None:
            raise ValueError("give descriptorSet (a file path) or descriptorSetBytes (base64)")
        if len(self.descriptor_set_bytes) > MAX_DESCRIPTOR_BYTES:
            raise ValueError(
                f"the descriptor set is {len(self.descriptor_set_bytes)} bytes, over {MAX_DESCRIPTOR_BYTES}: "
                "compile only the files this service needs"
            )
        try:
            from portico.core.grpc.descriptors import DescriptorError  # lazy: protobuf only for grpc routes
        except ImportError:  # a clear, per-document error: the other routes still load
            raise ValueError("grpc upstreams need the portico[grpc] extra (grpcio, protobuf) installed") from None
        try:
            info = method_info(self)
            bindings = bindings_of(self, info)
        except DescriptorError as exc:
            raise ValueError(str(exc)) from None
        if self.stream is not None and not info.server_streaming:
            raise ValueError(f"stream applies to server-streaming methods; {self.service}.{self.method} is unary")
        if not bindings:
            raise ValueError(
                f"{self.service}.{self.method} has no google.api.http annotation: give upstream.grpc.http "
                "(for example {post: /v1/things, body: '*'})"
            )
        return self


def method_info(spec: GrpcUpstream) -> MethodInfo:
    """The method this upstream names; raises DescriptorError."""
    from portico.core.grpc.descriptors import DescriptorError, find_method, load_set

    if spec.descriptor_set_bytes is None:
        raise DescriptorError("no descriptor set")
    return find_method(load_set(spec.descriptor_set_bytes), spec.service, spec.method)


def bindings_of(spec: GrpcUpstream, info: MethodInfo) -> list[Binding]:
    """The route's own rule when given, else the method's annotation; each checked against the messages."""
    from portico.core.grpc.descriptors import binding_of, check_binding

    if spec.http is not None:
        rule = spec.http
        bindings = [binding_of(rule.verb, getattr(rule, rule.verb), rule.body, rule.response_body, "http")]
    else:
        bindings = list(info.annotated)
    for binding in bindings:
        check_binding(info, binding)
    return bindings
