"""Compiled FileDescriptorSets: a descriptor pool per set, the method a route names, and its google.api.http rules.

Imported only when config holds a grpc upstream, so protobuf never loads for configs without one.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, TypeAlias

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import DecodeError, Message

from portico.core.grpc.httprule import PathTemplate, TemplateError

if TYPE_CHECKING:
    from google._upb import _message as upb

    # A message's DESCRIPTOR is typed as either implementation's descriptor; both offer what we use.
    MessageDescriptor: TypeAlias = Descriptor | upb.Descriptor
    AnyFieldDescriptor: TypeAlias = FieldDescriptor | upb.FieldDescriptor

HTTP_RULE_EXTENSION = 72295728  # google.api.http on google.protobuf.MethodOptions
HTTP_VERBS = ("get", "put", "post", "delete", "patch")


class DescriptorError(ValueError):
    """The descriptor set, or what config asks of it, is wrong; the message is for the operator."""


@dataclass(frozen=True, slots=True)
class Binding:
    """One HTTP mapping of a method: verb, path template, which field the body fills and which the reply gives."""

    http_method: str
    template: PathTemplate
    body: str | None = None
    response_body: str | None = None


@dataclass(frozen=True, slots=True)
class MethodInfo:
    path: str  # "/demo.v1.Library/GetBook", the gRPC :path
    descriptor: MethodDescriptor
    request_class: type[Message]
    reply_class: type[Message]
    server_streaming: bool
    annotated: tuple[Binding, ...]
    pool: descriptor_pool.DescriptorPool


@dataclass(frozen=True, slots=True)
class DescriptorSet:
    pool: descriptor_pool.DescriptorPool
    services: tuple[str, ...]  # fully qualified names, for suggestions


@lru_cache(maxsize=32)
def load_set(data: bytes) -> DescriptorSet:
    """A private pool holding every file of a serialized FileDescriptorSet (cached: config reloads reuse it)."""
    try:
        files = descriptor_pb2.FileDescriptorSet.FromString(data)
    except DecodeError as exc:
        raise DescriptorError(f"the descriptor set does not parse as a FileDescriptorSet: {exc}") from None
    if not files.file:
        raise DescriptorError("the descriptor set holds no files")
    pool = descriptor_pool.DescriptorPool()
    for proto in files.file:
        try:
            pool.Add(proto)
        except (TypeError, ValueError) as exc:
            raise DescriptorError(
                f"file {proto.name!r} cannot be loaded: {exc} (compile with --include_imports so dependencies are in)"
            ) from None
    services = tuple(f"{p.package}.{s.name}" if p.package else s.name for p in files.file for s in p.service)
    return DescriptorSet(pool, services)


def strip_source_info(data: bytes) -> bytes:
    """The set without comments and source positions: runtime needs neither, and it is often 5x smaller."""
    try:
        files = descriptor_pb2.FileDescriptorSet.FromString(data)
    except DecodeError as exc:
        raise DescriptorError(f"the descriptor set does not parse as a FileDescriptorSet: {exc}") from None
    for proto in files.file:
        proto.ClearField("source_code_info")
    return files.SerializeToString(deterministic=True)


def find_method(loaded: DescriptorSet, service: str, method: str) -> MethodInfo:
    pool = loaded.pool
    try:
        svc = pool.FindServiceByName(service)
    except KeyError:
        qualified = [s for s in loaded.services if s.rsplit(".", 1)[-1] == service]  # the short name was given
        sentence = f"service {service!r} is not in the descriptor set (services are named with their package)"
        if qualified:
            raise DescriptorError(f"{sentence}; did you mean {qualified[0]!r}?") from None
        raise DescriptorError(_missing(sentence, service, loaded.services)) from None
    found = svc.methods_by_name.get(method)
    if found is None:
        raise DescriptorError(_missing(f"method {method!r} is not in service {service}", method, svc.methods_by_name))
    if found.client_streaming:
        raise DescriptorError(f"method {service}.{method} is client-streaming; only unary and server-streaming map")
    return MethodInfo(
        path=f"/{svc.full_name}/{found.name}",
        descriptor=found,
        request_class=message_factory.GetMessageClass(found.input_type),
        reply_class=message_factory.GetMessageClass(found.output_type),
        server_streaming=found.server_streaming,
        annotated=_annotated(pool, found),
        pool=pool,
    )


def binding_of(verb: str, path: str, body: str | None, response_body: str | None, where: str = "http") -> Binding:
    try:
        template = PathTemplate.parse(path)
    except TemplateError as exc:
        raise DescriptorError(f"{where}: {exc}") from None
    return Binding(verb.upper(), template, body or None, response_body or None)


def check_binding(info: MethodInfo, binding: Binding) -> None:
    """Path variables name singular scalar fields, body and responseBody name top-level fields (spec rules)."""
    request = info.descriptor.input_type
    label = f"{binding.http_method} {binding.template}"
    for var in binding.template.variables:
        leaf = resolve_field(request, var.field_path)
        if leaf is None:
            raise DescriptorError(f"{label}: {request.full_name} has no field {var.name!r}")
        if leaf.is_repeated or leaf.type == FieldDescriptor.TYPE_MESSAGE:
            raise DescriptorError(f"{label}: path variable {var.name!r} must be a singular scalar field")
    if binding.body not in (None, "*"):
        if binding.http_method == "GET":
            raise DescriptorError(f"{label}: a GET mapping cannot take a body")
        if binding.body not in request.fields_by_name:
            raise DescriptorError(f"{label}: body names {binding.body!r}, not a field of {request.full_name}")
        if binding.body in {v.name for v in binding.template.variables}:
            raise DescriptorError(f"{label}: body field {binding.body!r} is also bound by the path")
    if binding.body == "*" and binding.http_method == "GET":
        raise DescriptorError(f"{label}: a GET mapping cannot take a body")
    reply = info.descriptor.output_type
    if binding.response_body is not None and binding.response_body not in reply.fields_by_name:
        raise DescriptorError(
            f"{label}: responseBody names {binding.response_body!r}, not a field of {reply.full_name}"
        )


def resolve_field(message: MessageDescriptor, path: tuple[str, ...] | list[str]) -> AnyFieldDescriptor | None:
    """The field a dotted path names (proto or JSON names), through singular message fields; None if there is none."""
    current: MessageDescriptor | None = message
    leaf: AnyFieldDescriptor | None = None
    for name in path:
        if current is None:
            return None
        leaf = current.fields_by_name.get(name) or _by_json_name(current, name)
        if leaf is None:
            return None
        nested = leaf.message_type if leaf.type == FieldDescriptor.TYPE_MESSAGE else None
        current = None if leaf.is_repeated else nested
    return leaf


def _by_json_name(message: MessageDescriptor, name: str) -> AnyFieldDescriptor | None:
    for field in message.fields:
        if field.json_name == name:
            return field
    return None


def _annotated(pool: descriptor_pool.DescriptorPool, method: MethodDescriptor) -> tuple[Binding, ...]:
    """The method's google.api.http rule and its additional_bindings, read from the serialized options.

    The extension is read from the wire bytes because the default pool may or may not know google.api.http
    (it does once anything imported annotations_pb2), which would change how GetOptions() presents it.
    """
    raw = _extension_bytes(method.GetOptions().SerializeToString(), HTTP_RULE_EXTENSION)
    if raw is None:
        return ()
    try:
        rule_class = message_factory.GetMessageClass(pool.FindMessageTypeByName("google.api.HttpRule"))
    except KeyError:
        raise DescriptorError("the method has a google.api.http option but google/api/http.proto is missing") from None
    rule = rule_class.FromString(raw)
    where = f"google.api.http of {method.full_name}"
    out = [_rule_binding(rule, where)]
    out.extend(_rule_binding(extra, where) for extra in getattr(rule, "additional_bindings"))  # noqa: B009
    return tuple(b for b in out if b is not None)


def _rule_binding(rule: Message, where: str) -> Binding | None:
    kind = rule.WhichOneof("pattern")
    if kind is None:
        return None
    if kind == "custom":
        custom = getattr(rule, "custom")  # noqa: B009
        verb, path = str(custom.kind), str(custom.path)
    else:
        verb, path = kind, str(getattr(rule, kind))
    return binding_of(verb, path, str(getattr(rule, "body")), str(getattr(rule, "response_body")), where)  # noqa: B009


def _extension_bytes(data: bytes, number: int) -> bytes | None:
    """The concatenated payloads of a length-delimited field in serialized protobuf (merge semantics)."""
    found: list[bytes] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = _varint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            size, pos = _varint(data, pos)
            if field == number:
                found.append(data[pos : pos + size])
            pos += size
        else:
            raise DescriptorError("method options use a wire type this reader does not know")
    return b"".join(found) if found else None


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise DescriptorError("method options are truncated")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        shift += 7
        if not byte & 0x80:
            return value, pos


def _missing(sentence: str, name: str, known: Iterable[str]) -> str:
    names = sorted(known)
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else (f"; known: {', '.join(names)}" if names else "")
    return sentence + hint
