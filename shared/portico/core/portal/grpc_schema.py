"""JSON Schemas for a transcoded route's gRPC messages, as proto3's JSON mapping writes them (the portal shows them).

Imported only when the config has grpc routes, so protobuf stays out of every other cold start. Nested messages
are expanded to a bounded depth; deeper (or recursive) ones are described by name only.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

MAX_DEPTH = 4
_SCALARS: dict[int, dict[str, Any]] = {
    FieldDescriptor.TYPE_DOUBLE: {"type": "number"},
    FieldDescriptor.TYPE_FLOAT: {"type": "number"},
    FieldDescriptor.TYPE_INT64: {"type": "string", "format": "int64"},  # proto3 JSON writes 64-bit ints as strings
    FieldDescriptor.TYPE_UINT64: {"type": "string", "format": "uint64"},
    FieldDescriptor.TYPE_SINT64: {"type": "string", "format": "int64"},
    FieldDescriptor.TYPE_FIXED64: {"type": "string", "format": "uint64"},
    FieldDescriptor.TYPE_SFIXED64: {"type": "string", "format": "int64"},
    FieldDescriptor.TYPE_INT32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_SINT32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_UINT32: {"type": "integer", "format": "int64", "minimum": 0},
    FieldDescriptor.TYPE_FIXED32: {"type": "integer", "format": "int64", "minimum": 0},
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.TYPE_STRING: {"type": "string"},
    FieldDescriptor.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
}
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?\d+(\.\d+)?s$"},
    "google.protobuf.Struct": {"type": "object"},
    "google.protobuf.Value": {},
    "google.protobuf.Empty": {"type": "object", "maxProperties": 0},
    "google.protobuf.StringValue": {"type": ["string", "null"]},
}


def message_schema(message: Descriptor, depth: int = 0) -> dict[str, Any]:
    known = _WELL_KNOWN.get(message.full_name)
    if known is not None:
        return dict(known)
    if depth >= MAX_DEPTH:
        return {"type": "object", "title": message.full_name, "description": "nested deeper than shown"}
    properties = {field.json_name: _field(field, depth) for field in message.fields}
    return {"type": "object", "title": message.full_name, "properties": properties}


def _field(field: FieldDescriptor, depth: int) -> dict[str, Any]:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        value = field.message_type.fields_by_name["value"]
        return {"type": "object", "additionalProperties": _single(value, depth + 1)}
    single = _single(field, depth + 1)
    if _repeated(field):
        return {"type": "array", "items": single}
    return single


def _single(field: FieldDescriptor, depth: int) -> dict[str, Any]:
    if field.enum_type is not None:
        return {"type": "string", "enum": [v.name for v in field.enum_type.values]}
    if field.message_type is not None:
        return message_schema(field.message_type, depth)
    return dict(_SCALARS.get(field.type, {}))


def _repeated(field: FieldDescriptor) -> bool:
    flag = getattr(field, "is_repeated", None)  # protobuf >= 6; older releases only have `label`
    if flag is not None:
        return bool(flag)
    return bool(getattr(field, "label", None) == FieldDescriptor.LABEL_REPEATED)
