"""REST/JSON <-> protobuf for one method, per the google.api.http rules, using protobuf's own JSON mapping.

The request message is filled in the order body, query parameters, path variables, so a path variable wins over
anything else naming the same field. Every input error is a BadRequest whose message names the field, raised
before any call is made.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from portico.core.grpc.descriptors import Binding, MethodInfo, resolve_field
from portico.core.untrusted import UntrustedInputError, load_json

if TYPE_CHECKING:
    from portico.core.grpc.descriptors import AnyFieldDescriptor, MessageDescriptor

# Well-known message types whose JSON form is a single string, so a path or query value can fill them.
_STRING_MESSAGES = frozenset(
    "google.protobuf." + name
    for name in "Timestamp Duration FieldMask BoolValue StringValue BytesValue".split()  # noqa: SIM905
    + [f"{kind}Value" for kind in ("Double", "Float", "Int64", "UInt64", "Int32", "UInt32")]
)


_FAILED_FIELD = re.compile(r"Failed to parse (\S+) field: ")


class BadRequest(ValueError):
    """Input that does not fit the request message; the message is client-facing and names the field."""


class BadReply(ValueError):
    """The upstream's reply bytes do not parse as the method's reply message."""


@dataclass(frozen=True, slots=True)
class ReplyFormat:
    """Envoy's print options: lowerCamelCase JSON names and no unpopulated fields, unless asked otherwise."""

    proto_field_names: bool = False
    emit_unpopulated: bool = False
    enums_as_ints: bool = False


class Transcoder:
    """Compiled once per route: the method, its bindings and the reply format."""

    def __init__(
        self,
        info: MethodInfo,
        bindings: Sequence[Binding],
        reply: ReplyFormat = ReplyFormat(),
        *,
        ignore_unknown_query: bool = False,
    ) -> None:
        self.info = info
        self.bindings = tuple(bindings)
        self._reply = reply
        self._ignore_unknown_query = ignore_unknown_query

    def select(self, http_method: str, path: str) -> tuple[Binding, dict[str, str]] | frozenset[str]:
        """The binding and path values for this request, or the methods the path allows (empty: no mapping)."""
        allowed: set[str] = set()
        for binding in self.bindings:
            values = binding.template.match(path)
            if values is None:
                continue
            if binding.http_method == http_method:
                return binding, values
            allowed.add(binding.http_method)
        return frozenset(allowed)

    def request_message(
        self, binding: Binding, path_values: dict[str, str], query: Sequence[tuple[str, str]], body: bytes
    ) -> Message:
        message = self.info.request_class()
        self._fill_body(message, binding, body)
        bound = {v.name for v in binding.template.variables}
        grouped: dict[str, list[str]] = {}
        for name, value in query:
            grouped.setdefault(name, []).append(value)
        for name, values in grouped.items():
            self._fill_query(message, binding, bound, name, values)
        for name, value in path_values.items():
            self._set(message, name.split("."), [value], f"path parameter {name!r}")
        return message

    def reply_json(self, data: bytes, binding: Binding) -> Any:
        try:
            reply = self.info.reply_class.FromString(data)
        except DecodeError as exc:
            raise BadReply(f"reply is not a {self.info.reply_class.DESCRIPTOR.full_name}: {exc}") from None
        out = json_format.MessageToDict(
            reply,
            always_print_fields_with_no_presence=self._reply.emit_unpopulated,
            preserving_proto_field_name=self._reply.proto_field_names,
            use_integers_for_enums=self._reply.enums_as_ints,
            descriptor_pool=self.info.pool,
        )
        if binding.response_body is None:
            return out
        field = reply.DESCRIPTOR.fields_by_name[binding.response_body]
        key = field.name if self._reply.proto_field_names else field.json_name
        if key in out:
            return out[key]
        return {} if field.type == FieldDescriptor.TYPE_MESSAGE and not field.is_repeated else None

    def _fill_body(self, message: Message, binding: Binding, body: bytes) -> None:
        if binding.body is None:
            if body.strip():
                raise BadRequest(f"{binding.http_method} {binding.template} takes no request body")
            return
        if not body.strip():
            return  # an empty body is the empty message, as grpc-gateway treats it
        try:
            parsed = load_json(body, what="the request body")
        except UntrustedInputError as exc:
            raise BadRequest(str(exc)) from None
        if binding.body == "*":
            if not isinstance(parsed, dict):
                raise BadRequest(f"the request body must be a JSON object ({_type_name(message.DESCRIPTOR)})")
            _parse(parsed, message, "request body", self.info)
            return
        field = message.DESCRIPTOR.fields_by_name[binding.body]
        self._assign(message, field, parsed, "request body")

    def _fill_query(self, message: Message, binding: Binding, bound: set[str], name: str, values: list[str]) -> None:
        path = name.split(".")
        field = resolve_field(message.DESCRIPTOR, path)
        where = f"query parameter {name!r}"
        if field is None or binding.body == "*" or path[0] == binding.body:
            if self._ignore_unknown_query:
                return
            if field is None:
                raise BadRequest(f"{where} is not a field of {_type_name(message.DESCRIPTOR)}")
            raise BadRequest(f"{where} is carried by the request body here, not the query")
        if name in bound:
            return  # the path binds this field; the path value wins
        self._set(message, path, values, where)

    def _set(self, message: Message, path: list[str], values: list[str], where: str) -> None:
        """Set a leaf field from string values (path or query), walking singular message fields."""
        target = message
        for name in path[:-1]:
            field = resolve_field(target.DESCRIPTOR, [name])
            if field is None or field.is_repeated or field.type != FieldDescriptor.TYPE_MESSAGE:
                raise BadRequest(f"{where} does not name a field of {_type_name(message.DESCRIPTOR)}")
            target = getattr(target, field.name)
        leaf = resolve_field(target.DESCRIPTOR, [path[-1]])
        if leaf is None:
            raise BadRequest(f"{where} does not name a field of {_type_name(message.DESCRIPTOR)}")
        if leaf.type == FieldDescriptor.TYPE_MESSAGE and _message_name(leaf) not in _STRING_MESSAGES:
            raise BadRequest(f"{where} names a message field; give its fields, as {'.'.join(path)}.<field>")
        if not leaf.is_repeated and len(values) > 1:
            raise BadRequest(f"{where} is given {len(values)} times but {leaf.name!r} holds one value")
        converted = [_from_text(leaf, v, where) for v in values]
        self._assign(target, leaf, converted if leaf.is_repeated else converted[0], where)

    def _assign(self, target: Message, field: AnyFieldDescriptor, value: Any, where: str) -> None:
        """Parse `value` as the JSON of one field (through json_format) and store it, replacing a singular value."""
        scratch = type(target)()
        _parse({field.name: value}, scratch, where, self.info)
        if field.is_repeated:
            getattr(target, field.name).extend(getattr(scratch, field.name))
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            getattr(target, field.name).CopyFrom(getattr(scratch, field.name))
        else:
            setattr(target, field.name, getattr(scratch, field.name))


def _from_text(field: AnyFieldDescriptor, text: str, where: str) -> Any:
    """Path and query values are text; only booleans need converting before json_format sees them."""
    is_bool = field.type == FieldDescriptor.TYPE_BOOL or _message_name(field) == "google.protobuf.BoolValue"
    if not is_bool:
        return text
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise BadRequest(f"{where}: {text!r} is not true or false")


def _parse(value: dict[str, Any], message: Message, where: str, info: MethodInfo | None = None) -> None:
    try:
        json_format.ParseDict(value, message, descriptor_pool=info.pool if info else None)
    except json_format.ParseError as exc:
        raise BadRequest(f"{where} does not fit {_type_name(message.DESCRIPTOR)}: {_readable(exc)}") from None
    except RecursionError:
        raise BadRequest(f"{where} is nested too deeply") from None


def _readable(exc: json_format.ParseError) -> str:
    """json_format nests "Failed to parse a field: Failed to parse b field: reason"; say "field 'a.b': reason".

    Only the wording changes: if protobuf words it differently, its own text (which names the field) is kept.
    """
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    names: list[str] = []
    while (found := _FAILED_FIELD.match(text)) is not None:
        names.append(found.group(1))
        text = text[found.end() :]
    return f"field {'.'.join(names)!r}: {text.rstrip('.')}" if names else text


def _message_name(field: AnyFieldDescriptor) -> str | None:
    return field.message_type.full_name if field.message_type is not None else None


def _type_name(descriptor: MessageDescriptor) -> str:
    return descriptor.full_name
